// The escalation service: answers `tg.v1.escalate.<task>` requests in the coordinators' queue group,
// so every coordinator started takes a share. Each request is parsed once (bad → typed error headers),
// deduplicated by request id (an edge retry after a coordinator died is answered once), run through
// the cloud cascade within its deadline, and answered with the shared EscalationReply contract.
import type { Tracer } from "@opentelemetry/api";
import {
  headers as natsHeaders,
  type Msg,
  type NatsConnection,
  type Subscription,
} from "@nats-io/transport-node";
import {
  ATTR_DEVICE_ID,
  ATTR_REQUEST_ID,
  ATTR_TASK,
  ErrorCode,
  EscalationRequestSchema,
  TiergateError,
  decode,
  encodeErrorReply,
  extractTraceContext,
  toTiergateError,
  traceIdOf,
  withSpan,
  type EscalationReply,
  type EscalationRequest,
  type Logger,
  type Subjects,
} from "@tiergate/shared";
import type { DedupBegin, RequestDedup } from "../cache/request-dedup.ts";
import type { CoordinatorMetrics } from "../metrics/metrics.ts";
import type { Cascade } from "./cascade.ts";
import { systemClock, type Clock } from "./types.ts";

/** Largest escalation request accepted (the task's maxInputBytes is checked too). */
export const DEFAULT_MAX_ESCALATION_BYTES = 1_048_576;

export type EscalationServiceOptions = {
  nc: NatsConnection;
  subjects: Subjects;
  cascade: Cascade;
  dedup?: RequestDedup | undefined;
  logger: Logger;
  tracer: Tracer;
  metrics?: CoordinatorMetrics | undefined;
  clock?: Clock;
  maxBytes?: number;
};

export class EscalationService {
  readonly #o: EscalationServiceOptions;
  readonly #clock: Clock;
  readonly #inFlight = new Set<Promise<void>>();
  #sub: Subscription | undefined;
  #closing = false;

  constructor(options: EscalationServiceOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Subscribes, and resolves once the server has the subscription (a flush): from then on this
   * coordinator takes a share of the escalations. Without the flush a coordinator that did no other
   * round trip (no batches) reported started before NATS routed anything to it.
   */
  async start(): Promise<void> {
    const { nc, subjects } = this.#o;
    this.#sub = nc.subscribe(subjects.all.escalate, {
      queue: subjects.escalationQueueGroup,
      callback: (err, msg) => {
        if (err !== null) {
          this.#o.logger.error("escalation subscription failed", { err });
          return;
        }
        const p = this.#handle(msg).finally(() => this.#inFlight.delete(p));
        this.#inFlight.add(p);
      },
    });
    await nc.flush();
  }

  /** Escalations this instance answered (with a result or a typed error). */
  handled = 0;

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Stops taking requests (drain) and waits for the ones in flight to be answered. */
  async close(): Promise<void> {
    this.#closing = true;
    await this.#sub?.drain();
    await Promise.allSettled([...this.#inFlight]);
  }

  async #handle(msg: Msg): Promise<void> {
    this.handled += 1;
    let req: EscalationRequest | undefined;
    let after: (() => Promise<void>) | undefined;
    try {
      req = decode(EscalationRequestSchema, msg.data, {
        maxBytes: this.#o.maxBytes ?? DEFAULT_MAX_ESCALATION_BYTES,
        what: "escalation request",
      });
      // The task (an id, parsed) must be the subject's: compared with the subject built from it.
      if (msg.subject !== this.#o.subjects.escalate(req.task))
        throw new TiergateError(ErrorCode.BAD_REQUEST, `task "${req.task}" sent on subject ${msg.subject}`);
      const parent = extractTraceContext((k) => msg.headers?.get(k));
      const request = req;
      const traceId = traceIdOf(parent);
      const reply = await withSpan(
        this.#o.tracer,
        "tiergate.cloud.escalate",
        async () => await this.#answer(request, traceId, (task) => (after = task)),
        {
          parent,
          attributes: { [ATTR_TASK]: req.task, [ATTR_REQUEST_ID]: req.id, [ATTR_DEVICE_ID]: req.deviceId },
        },
      );
      msg.respond(reply);
      // NATS sends the reply from a microtask queued by respond; work after the reply (storing it
      // for deduplication) waits behind it, so its Redis write does not delay the reply.
      if (after !== undefined) {
        await Promise.resolve();
        await after();
      }
    } catch (err) {
      const e = toTiergateError(err);
      this.#o.metrics?.escalation(req?.task ?? "unknown", e.code);
      if (e.code === ErrorCode.INTERNAL)
        this.#o.logger.error("escalation failed", { err, requestId: req?.id });
      else
        this.#o.logger.debug("escalation refused", { code: e.code, message: e.message, requestId: req?.id });
      const { headers, data } = encodeErrorReply(e);
      const h = natsHeaders();
      for (const [k, v] of Object.entries(headers)) h.set(k, v);
      msg.respond(data, { headers: h });
    }
  }

  /** The encoded EscalationReply for `req`, from the dedup store or the cascade. */
  async #answer(
    req: EscalationRequest,
    traceId: string | undefined,
    afterReply: (task: () => Promise<void>) => void,
  ): Promise<Uint8Array> {
    if (this.#closing) throw new TiergateError(ErrorCode.SHUTTING_DOWN, "coordinator is shutting down");
    if (this.#clock.now() >= req.deadlineAt)
      throw new TiergateError(ErrorCode.DEADLINE_EXCEEDED, "the request's deadline passed before it arrived");
    const dedup = this.#o.dedup;
    // The request-id claim guards the LLM call (the one that costs money) and answers from the cache
    // (what a repeat of an LLM-answered id finds): it is taken when the cascade reaches either, and
    // only then. A model's answer costs no Redis round trip; a repeat of its id runs the same
    // deterministic model again and gets the same answer. A repeat that reaches the cache or the LLM
    // after its id was answered gets the stored reply (the cascade's own answer is dropped), or waits
    // while a live coordinator holds the claim.
    const held: { claim?: Promise<DedupBegin> } = {};
    const gate =
      dedup === undefined
        ? undefined
        : async (): Promise<void> => {
            held.claim ??= dedup.begin(req.id, req.deadlineAt);
            const begun = await held.claim;
            if (begun.type !== "run")
              throw new TiergateError(ErrorCode.DEADLINE_EXCEEDED, `request ${req.id} is answered elsewhere`);
          };
    const outcome = await this.#o.cascade
      .run({
        id: req.id,
        task: req.task,
        input: req.input,
        deadlineAt: req.deadlineAt,
        edgeAttempts: req.edgeAttempts,
        traceId,
        ...(gate === undefined ? {} : { gate }),
      })
      .then(
        (result) => ({ type: "answered", result }) as const,
        (error: unknown) => ({ type: "failed", error }) as const,
      );
    const begun = await held.claim?.catch((error: unknown) => ({ type: "error", error }) as const);
    if (begun?.type === "error") throw begun.error;
    if (begun?.type === "answered") {
      this.#o.metrics?.escalation(req.task, "deduplicated");
      return Buffer.from(begun.reply, "utf8");
    }
    if (begun?.type === "timeout")
      throw new TiergateError(
        ErrorCode.DEADLINE_EXCEEDED,
        `deadline passed while coordinator ${begun.owner} ran the request`,
      );
    // Without a claim (no LLM call) there is nothing to store or give up.
    const owned = begun?.type === "run" ? dedup : undefined;
    try {
      if (outcome.type === "failed") throw outcome.error;
      const result = outcome.result;
      // Sent as built: the cascade makes the result from parsed input and typed parts (its id is the
      // request's), and the edge validates the reply when it decodes it. Re-parsing it here was the
      // largest piece of coordinator work on the escalation path (~20 us a reply).
      const reply: EscalationReply = { id: req.id, result };
      const json = JSON.stringify(reply);
      this.#o.metrics?.escalation(req.task, result.status);
      // Stored after the reply is sent (off the latency path); a repeat arriving meanwhile waits on
      // this live coordinator's claim and then reads the stored reply.
      if (owned !== undefined)
        afterReply(() =>
          owned.complete(req.id, json).catch((err: unknown) => {
            this.#o.logger.warn("could not store a reply for deduplication", { err, requestId: req.id });
          }),
        );
      return Buffer.from(json, "utf8");
    } catch (err) {
      await owned?.release(req.id).catch(() => undefined);
      throw err;
    }
  }
}
