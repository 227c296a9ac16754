// Shared setup of the coordinator integration tests: a real nats-server and redis-server, the LLM
// stand-in over HTTP (CLINC150 gold labels — a stand-in, not a real LLM), the trained medium model,
// and a policy that puts medium before the LLM. Coordinators are started in-process against them.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import {
  BatchScheduler,
  BatchStore,
  Coordinator,
  CoordinatorMetrics,
  DEFAULT_BATCH_QUEUE,
  GoldTeacher,
  LlmTier,
  endpointsFromPolicy,
  loadClincGold,
  startStandin,
  type CoordinatorSettings,
  type Standin,
} from "@tiergate/cloud-coordinator";
import {
  createConsoleLogger,
  isLogLevel,
  loadModel,
  parsePolicy,
  type LoadedPolicy,
  type PolicyInput,
} from "@tiergate/shared";
import {
  startNatsServer,
  startRedisServer,
  makeTempDir,
  type NatsServerHandle,
  type RedisServerHandle,
  type TempDir,
} from "../index.ts";
import { ensureModels } from "../models/ensure-models.ts";

export const LLM_KEY_ENV = "TG_TEST_LLM_KEY";
export const LLM_ENV = { [LLM_KEY_ENV]: "test-key-not-secret" };
export const TASK = "intent";
export const MEDIUM_THRESHOLD = 0.9;
export const MEDIUM_COST_USD = 0.00002;
export const API_KEY = "test-api-key-0123456789";
/** Set-up may train the medium model on a fresh clone (minutes, once, shared through a lock). */
export const FIXTURE_TIMEOUT_MS = 600_000;
/** Set TG_TEST_LOG=debug to see the coordinators' logs. */
const logLevel = process.env["TG_TEST_LOG"];
const testLogger = createConsoleLogger({ level: isLogLevel(logLevel) ? logLevel : "silent", json: false });

export type Fixture = AsyncDisposable & {
  nats: NatsServerHandle;
  redis: RedisServerHandle;
  standin: Standin;
  mediumDir: string;
  tmp: TempDir;
  policyInput: PolicyInput;
  policy: LoadedPolicy;
  /** The policy as a file (for spawned coordinators). */
  policyFile: string;
  gold: Map<string, string>;
  connectNats(): Promise<NatsConnection>;
  connectRedis(bull?: boolean): Promise<Redis>;
  /** The batch store of the coordinator started with `keyPrefix`, on its own connection. */
  batchStore(keyPrefix: string): Promise<BatchStore>;
  /**
   * That store and a scheduler (running every batch at once) on their own connections: what another
   * API process submits through. The caller closes the scheduler.
   */
  batchClient(keyPrefix: string): Promise<{ store: BatchStore; scheduler: BatchScheduler }>;
  /** An in-process coordinator on its own connections; closed with the fixture. */
  startCoordinator(
    settings?: Partial<CoordinatorSettings> & { clock?: { now(): number } },
  ): Promise<Coordinator>;
};

export function policyFor(mediumDir: string, llmUrl: string, extra: Partial<PolicyInput> = {}): PolicyInput {
  return {
    version: "1.0",
    tasks: {
      [TASK]: {
        tiers: [
          {
            name: "medium",
            where: "cloud",
            model: mediumDir,
            accept: { rule: "max-prob", threshold: MEDIUM_THRESHOLD },
          },
          { name: "llm", where: "cloud", llm: { endpoints: ["standin"] } },
        ],
        rejectLabels: ["oos"],
      },
    },
    costs: { medium: { perRequestUsd: MEDIUM_COST_USD } },
    llm: {
      endpoints: {
        standin: {
          baseURL: llmUrl,
          apiKey: `env:${LLM_KEY_ENV}`,
          model: "standin-gold",
          timeoutMs: 5000,
          pricing: { inputPerMTokUsd: 0.15, outputPerMTokUsd: 0.6 },
        },
      },
    },
    batch: {
      offPeak: { timeZone: "Europe/Berlin", windows: [{ start: "22:00", end: "06:00" }] },
      backoffMs: 100,
    },
    ...extra,
  };
}

export type FixtureOptions = {
  /** Keep Redis data across `redis.restart()` (append-only file). */
  redisAppendonly?: boolean;
  /** Fixed stand-in latency per chat answer. */
  llmLatencyMs?: number;
};

export async function startFixture(
  extra: Partial<PolicyInput> = {},
  options: FixtureOptions = {},
): Promise<Fixture> {
  const cleanup: (() => Promise<void>)[] = [];
  const dispose = async (): Promise<void> => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  };
  try {
    const [medium] = await ensureModels({ presets: ["medium"], quantize: false });
    if (medium === undefined) throw new Error("no medium model");
    const nats = await startNatsServer();
    cleanup.push(async () => await nats[Symbol.asyncDispose]());
    const redis = await startRedisServer({ appendonly: options.redisAppendonly === true });
    cleanup.push(async () => await redis[Symbol.asyncDispose]());
    const gold = await loadClincGold();
    const standin = await startStandin({
      teacher: new GoldTeacher({ gold }),
      port: 0,
      ...(options.llmLatencyMs === undefined ? {} : { latencyMs: options.llmLatencyMs }),
    });
    cleanup.push(() => standin.close());
    const tmp = await makeTempDir("coord-test");
    cleanup.push(() => tmp.remove());
    const policyInput = policyFor(medium.dir, standin.url, extra);
    const text = JSON.stringify(policyInput, null, 2);
    const policyFile = join(tmp.path, "policy.json");
    await writeFile(policyFile, text);
    const policy = parsePolicy(text, { file: policyFile });

    const connectNats = async (): Promise<NatsConnection> => {
      const nc = await connect({ servers: nats.url });
      cleanup.push(async () => void (await nc.close()));
      return nc;
    };
    const connectRedis = async (bull = false): Promise<Redis> => {
      const r = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: bull ? null : 3 });
      // Restart tests take Redis away on purpose; ioredis reconnects by itself.
      r.on("error", () => undefined);
      await r.connect();
      cleanup.push(() => {
        r.disconnect();
        return Promise.resolve();
      });
      return r;
    };
    // Where Coordinator.start puts a batch's records and jobs for a `keyPrefix`.
    const batchStore = async (keyPrefix: string): Promise<BatchStore> =>
      new BatchStore({
        redis: await connectRedis(),
        keyPrefix: `${keyPrefix}tg:batch:`,
        jobKeyPrefix: `${keyPrefix}bull:${DEFAULT_BATCH_QUEUE}:`,
      });
    const fixture: Fixture = {
      nats,
      redis,
      standin,
      mediumDir: medium.dir,
      tmp,
      policyInput,
      policy,
      policyFile,
      gold,
      connectNats,
      connectRedis,
      batchStore,
      async batchClient(keyPrefix) {
        const store = await batchStore(keyPrefix);
        const scheduler = new BatchScheduler({
          redis: await connectRedis(true),
          store,
          policy: () => policy,
          prefix: `${keyPrefix}bull`,
          forceOffPeak: true,
        });
        return { store, scheduler };
      },
      async startCoordinator(settings = {}) {
        const { clock, ...rest } = settings;
        const c = await Coordinator.start(
          {
            nc: await connectNats(),
            redis: await connectRedis(),
            bullRedis: await connectRedis(true),
            loadModel: (dir) => loadModel(dir),
            llm: (names) => new LlmTier({ endpoints: endpointsFromPolicy(policy.policy, names, LLM_ENV) }),
            logger: testLogger,
            metrics: new CoordinatorMetrics(),
            ...(clock === undefined ? {} : { clock }),
          },
          { policy: () => policy, apiKeys: [API_KEY], ...rest },
        );
        cleanup.push(() => c.close());
        return c;
      },
      [Symbol.asyncDispose]: dispose,
    };
    return fixture;
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** CLINC150 test texts the medium model is sure of (≥ threshold, in scope) and unsure of. */
export async function pickTexts(
  mediumDir: string,
  gold: Map<string, string>,
  n = 5,
): Promise<{ confident: string[]; unsure: string[] }> {
  const model = await loadModel(mediumDir);
  try {
    const texts = [...gold.keys()].slice(0, 3000);
    const out = await model.classify(texts);
    const confident: string[] = [];
    const unsure: string[] = [];
    out.forEach((c, i) => {
      const text = texts[i] ?? "";
      if (!c.outOfScope && c.confidence.maxProb >= MEDIUM_THRESHOLD + 0.02 && gold.get(text) !== "oos")
        confident.push(text);
      else if (c.confidence.maxProb < MEDIUM_THRESHOLD - 0.2 && gold.get(text) !== "oos") unsure.push(text);
    });
    return { confident: confident.slice(0, n), unsure: unsure.slice(0, n) };
  } finally {
    await model.close();
  }
}
