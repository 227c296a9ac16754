// NATS subjects, stream, consumer and queue-group names. Build them only here.
//   tg.v1.escalate.<task>     request–reply, queue group ESCALATION_QUEUE_GROUP
//   tg.v1.batch.<deviceId>    JetStream stream STREAM_BATCH, deduplicated by message id (batchId)
//   tg.v1.results.<deviceId>  JetStream stream STREAM_RESULTS, one durable consumer per device
//   tg.v1.hb.<deviceId>       heartbeats (core NATS)
// `createSubjects({ prefix })` puts every name under a prefix so that tests sharing one server
// stay apart: subjects become `<prefix>.tg.v1...`, streams `<PREFIX>_TG_BATCH`, and so on.
import { idProblem } from "./contracts/common.ts";
import { ErrorCode, TiergateError } from "./errors.ts";

export const SUBJECT_ROOT = "tg.v1";
export const STREAM_BATCH = "TG_BATCH";
export const STREAM_RESULTS = "TG_RESULTS";
export const ESCALATION_QUEUE_GROUP = "tg-coordinators";
/** Durable consumer of STREAM_BATCH shared by all coordinators. */
export const BATCH_CONSUMER = "tg-coordinator-batches";
/** Durable consumer of STREAM_RESULTS for one device: `<RESULTS_CONSUMER_PREFIX><deviceId>`. */
export const RESULTS_CONSUMER_PREFIX = "tg-results-";

export type SubjectKind = "escalate" | "batch" | "results" | "heartbeat";

const TOKEN: Readonly<Record<SubjectKind, string>> = {
  escalate: "escalate",
  batch: "batch",
  results: "results",
  heartbeat: "hb",
};

/** Throws INVALID_ID unless `id` can be one subject token (see `idProblem`). Returns it. */
export function assertValidId(id: string, what = "id"): string {
  const problem = typeof id === "string" ? idProblem(id) : "is not a string";
  if (problem !== undefined) {
    throw new TiergateError(ErrorCode.INVALID_ID, `${what} ${JSON.stringify(id)} ${problem}`);
  }
  return id;
}

export interface StreamSpec {
  name: string;
  subjects: string[];
}

export interface SubjectsOptions {
  /** Dot-separated tokens put in front of every subject (test isolation); default none. */
  prefix?: string;
}

export interface Subjects {
  /** The prefix given, "" when none. */
  readonly prefix: string;
  escalate(task: string): string;
  batch(deviceId: string): string;
  results(deviceId: string): string;
  heartbeat(deviceId: string): string;
  /** Wildcards for subscribers: one token after the kind (ids never contain dots). */
  readonly all: Readonly<Record<SubjectKind, string>>;
  readonly streams: { readonly batch: StreamSpec; readonly results: StreamSpec };
  readonly escalationQueueGroup: string;
  readonly batchConsumer: string;
  resultsConsumer(deviceId: string): string;
  /** The kind and id of a subject built by these helpers, or undefined for any other subject. */
  parse(subject: string): { kind: SubjectKind; id: string } | undefined;
}

export function createSubjects(options: SubjectsOptions = {}): Subjects {
  const prefix = options.prefix ?? "";
  if (prefix !== "") {
    for (const token of prefix.split(".")) assertValidId(token, "subject prefix token");
  }
  const root = prefix === "" ? SUBJECT_ROOT : `${prefix}.${SUBJECT_ROOT}`;
  const namePrefix = prefix === "" ? "" : `${prefix.replaceAll(".", "_").toUpperCase()}_`;
  const lowerPrefix = prefix === "" ? "" : `${prefix.replaceAll(".", "-")}-`;
  const build = (kind: SubjectKind, id: string, what: string): string =>
    `${root}.${TOKEN[kind]}.${assertValidId(id, what)}`;
  const wildcard = (kind: SubjectKind, last: "*" | ">"): string => `${root}.${TOKEN[kind]}.${last}`;
  const byToken = new Map<string, SubjectKind>(
    (Object.entries(TOKEN) as [SubjectKind, string][]).map(([kind, token]) => [token, kind]),
  );

  return {
    prefix,
    escalate: (task) => build("escalate", task, "task"),
    batch: (deviceId) => build("batch", deviceId, "deviceId"),
    results: (deviceId) => build("results", deviceId, "deviceId"),
    heartbeat: (deviceId) => build("heartbeat", deviceId, "deviceId"),
    all: {
      escalate: wildcard("escalate", "*"),
      batch: wildcard("batch", "*"),
      results: wildcard("results", "*"),
      heartbeat: wildcard("heartbeat", "*"),
    },
    streams: {
      batch: { name: `${namePrefix}${STREAM_BATCH}`, subjects: [wildcard("batch", ">")] },
      results: { name: `${namePrefix}${STREAM_RESULTS}`, subjects: [wildcard("results", ">")] },
    },
    escalationQueueGroup: `${lowerPrefix}${ESCALATION_QUEUE_GROUP}`,
    batchConsumer: `${lowerPrefix}${BATCH_CONSUMER}`,
    resultsConsumer: (deviceId) =>
      `${lowerPrefix}${RESULTS_CONSUMER_PREFIX}${assertValidId(deviceId, "deviceId")}`,
    parse(subject) {
      if (!subject.startsWith(`${root}.`)) return undefined;
      const rest = subject.slice(root.length + 1).split(".");
      if (rest.length !== 2) return undefined;
      const [token, id] = rest as [string, string];
      const kind = byToken.get(token);
      if (kind === undefined || idProblem(id) !== undefined) return undefined;
      return { kind, id };
    },
  };
}

/** The production subjects (no prefix). */
export const subjects: Subjects = createSubjects();
