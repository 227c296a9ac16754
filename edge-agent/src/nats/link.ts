// The agent's one link to the cloud over NATS: escalation requests (with retries on the same id, so a
// dying coordinator loses nothing; coordinators deduplicate by id), outbox batches to JetStream with
// message ids, the device's durable results consumer, and heartbeats. It connects in the background
// and keeps reconnecting: the agent answers from the edge while the link is down. The NATS client
// libraries are imported when it first connects, after the agent is ready: importing them was ~5% of
// start-to-ready, and nothing before the first connection needs them.
import { setTimeout as delay } from "node:timers/promises";
import type { NatsConnection } from "@nats-io/transport-node";
import type * as NatsCore from "@nats-io/transport-node";
import type * as NatsJetStream from "@nats-io/jetstream";
import type { JetStreamClient } from "@nats-io/jetstream";
import { context, type Context } from "@opentelemetry/api";
import {
  decode,
  decodeReply,
  DeviceResultSchema,
  encode,
  ErrorCode,
  EscalationReplySchema,
  injectTraceContext,
  TiergateError,
  toTiergateError,
  type BatchSubmission,
  type DeviceResult,
  type EscalationRequest,
  type Heartbeat,
  type InferResult,
  type Logger,
  type Subjects,
} from "@tiergate/shared";
import type { Escalator } from "../engine/types.ts";
import type { EdgeMetrics } from "../metrics/metrics.ts";
import type { RttEstimator } from "../escalation/rtt.ts";
import type * as Streams from "./streams.ts";

export const DEADLINE_HEADER = "Tg-Deadline-At";
export const REQUEST_ID_HEADER = "Tg-Request-Id";
export const DEVICE_ID_HEADER = "Tg-Device-Id";
export const DEFAULT_RECONNECT_DELAY_MS = 1_000;
export const DEFAULT_JS_PUBLISH_TIMEOUT_MS = 5_000;
/** An escalation attempt gets at least this long, else the rest of the deadline in one go. */
export const MIN_ESCALATION_ATTEMPT_MS = 200;
/** Wait before retrying an escalation that found no coordinator. */
export const NO_RESPONDERS_RETRY_MS = 50;
/** Largest deferred-result message accepted. */
export const MAX_RESULT_MESSAGE_BYTES = 4 * 1024 * 1024;

export type LinkState = "connecting" | "connected" | "reconnecting" | "closed";

type NatsLibraries = { core: typeof NatsCore; js: typeof NatsJetStream; streams: typeof Streams };
let natsLibraries: Promise<NatsLibraries> | undefined;

/** The NATS client, JetStream and this folder's stream set-up, imported once on first use. */
function loadNatsLibraries(): Promise<NatsLibraries> {
  natsLibraries ??= Promise.all([
    import("@nats-io/transport-node"),
    import("@nats-io/jetstream"),
    import("./streams.ts"),
  ]).then(([core, js, streams]) => ({ core, js, streams }));
  return natsLibraries;
}

export type NatsLinkOptions = {
  connect: () => Promise<NatsConnection>;
  subjects: Subjects;
  deviceId: string;
  logger: Logger;
  metrics: EdgeMetrics;
  rtt: RttEstimator;
  /** Stores a deferred result; a throw makes JetStream redeliver it later. */
  onResult: (result: DeviceResult) => Promise<void>;
  /** Called on (re)connect: flush the outbox now. */
  onConnected?: () => void;
  reconnectDelayMs?: number;
  publishTimeoutMs?: number;
};

export class NatsLink implements Escalator {
  readonly #o: NatsLinkOptions;
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  /** Set before the first connection is. */
  #libs: NatsLibraries | undefined;
  #state: LinkState = "connecting";
  #closed = false;
  /** Ends the reconnect loops' pauses at close: a stop waited up to a whole pause before. */
  readonly #closing = new AbortController();
  #tasks = new Set<Promise<void>>();
  #stopConsumer: (() => void) | undefined;

  constructor(options: NatsLinkOptions) {
    this.#o = options;
  }

  get state(): LinkState {
    return this.#state;
  }

  get connected(): boolean {
    return this.#state === "connected";
  }

  get rttEstimateMs(): number {
    return this.#o.rtt.estimateMs;
  }

  /** Starts connecting in the background; never throws. */
  start(): void {
    this.#track(this.#connectLoop());
  }

  async escalate(
    request: EscalationRequest,
    options: { deadlineAt: number; trace?: Context },
  ): Promise<InferResult> {
    const subject = this.#o.subjects.escalate(request.task);
    const data = encode(request);
    let lastError: TiergateError = new TiergateError(ErrorCode.DEADLINE_EXCEEDED, "no time left to escalate");
    for (let attempt = 0; ; attempt++) {
      const remaining = options.deadlineAt - Date.now();
      if (remaining <= 0 || this.#closed) return Promise.reject(lastError);
      const nc = this.#nc;
      const libs = this.#libs;
      if (nc === undefined || libs === undefined || !this.connected)
        throw new TiergateError(ErrorCode.UNAVAILABLE, "the cloud is unreachable (NATS disconnected)");
      // The first attempt leaves time for a retry: a coordinator that dies mid-request never answers.
      const timeout =
        attempt === 0 && remaining >= 2 * MIN_ESCALATION_ATTEMPT_MS
          ? Math.floor(remaining / 2)
          : Math.floor(remaining);
      const h = libs.core.headers();
      for (const [k, v] of Object.entries(injectTraceContext({}, options.trace ?? context.active())))
        h.set(k, v);
      h.set(DEADLINE_HEADER, String(Math.floor(options.deadlineAt)));
      h.set(REQUEST_ID_HEADER, request.id);
      h.set(DEVICE_ID_HEADER, request.deviceId);
      const started = Date.now();
      try {
        const msg = await nc.request(subject, data, { timeout: Math.max(1, timeout), headers: h });
        const reply = decodeReply(EscalationReplySchema, msg.data, (k) => msg.headers?.get(k), {
          what: "escalation reply",
        });
        this.#o.rtt.observe(Date.now() - started);
        this.#o.metrics.rttEstimate.set(this.#o.rtt.estimateMs);
        if (reply.id !== request.id)
          throw new TiergateError(ErrorCode.INTERNAL, `reply for ${reply.id}, expected ${request.id}`);
        return reply.result;
      } catch (err) {
        lastError = requestError(err, libs.core.errors);
        if (!lastError.retryable) throw lastError;
        this.#o.logger.debug("escalation attempt failed; retrying while the deadline allows", {
          id: request.id,
          attempt,
          code: lastError.code,
        });
        if (lastError.code === ErrorCode.UNAVAILABLE)
          await sleep(Math.min(NO_RESPONDERS_RETRY_MS, Math.max(0, options.deadlineAt - Date.now())));
      }
    }
  }

  /** Publishes one outbox batch to JetStream; the batch id is the Nats-Msg-Id (deduplication). */
  async publishBatch(batch: BatchSubmission): Promise<void> {
    const js = this.#js;
    if (js === undefined || !this.connected)
      throw new TiergateError(ErrorCode.UNAVAILABLE, "NATS is not connected");
    try {
      const ack = await js.publish(this.#o.subjects.batch(this.#o.deviceId), encode(batch), {
        msgID: batch.batchId,
        timeout: this.#o.publishTimeoutMs ?? DEFAULT_JS_PUBLISH_TIMEOUT_MS,
      });
      if (ack.duplicate)
        this.#o.logger.info("batch was already delivered (deduplicated)", { batchId: batch.batchId });
    } catch (err) {
      throw toTiergateError(err, ErrorCode.UNAVAILABLE);
    }
  }

  publishHeartbeat(hb: Heartbeat): void {
    if (this.#nc === undefined || !this.connected) return;
    try {
      this.#nc.publish(this.#o.subjects.heartbeat(this.#o.deviceId), encode(hb));
    } catch (err) {
      this.#o.logger.debug("heartbeat not sent", { err: String(err) });
    }
  }

  /** Stops the results consumer and drains the connection (pending publishes are flushed). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort();
    this.#stopConsumer?.();
    const nc = this.#nc;
    if (nc !== undefined && !nc.isClosed()) {
      try {
        // Draining needs the server; while it is gone, close (what is unsent stays in the outbox).
        if (this.connected) await nc.drain();
        else await nc.close();
      } catch (err) {
        this.#o.logger.warn("NATS drain failed", { err: String(err) });
      }
    }
    this.#state = "closed";
    this.#o.metrics.natsConnected.set(0);
    await Promise.allSettled([...this.#tasks]);
  }

  #track(p: Promise<void>): void {
    this.#tasks.add(p);
    void p.finally(() => this.#tasks.delete(p));
  }

  async #connectLoop(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      try {
        // A connection attempt can hang until the client's timeout (a server that does not answer):
        // closing the link stops waiting for it, and a connection it still makes is closed.
        const attempt = this.#o.connect();
        const nc = await untilAborted(attempt, this.#closing.signal);
        if (nc === undefined) {
          attempt.then(
            (late) => void late.close().catch(() => undefined),
            () => undefined,
          );
          return;
        }
        // The JetStream client loads once there is a server to use it with: while NATS is
        // unreachable (and right after ready) only the connector's own module is loaded.
        let libs: NatsLibraries;
        try {
          libs = this.#libs ??= await loadNatsLibraries();
        } catch (err) {
          await nc.close().catch(() => undefined);
          throw err;
        }
        const { js, streams } = libs;
        if (this.#closed) {
          await nc.close();
          return;
        }
        this.#nc = nc;
        this.#js = js.jetstream(nc);
        try {
          await streams.ensureStreams(await js.jetstreamManager(nc), this.#o.subjects);
        } catch (err) {
          this.#o.logger.error("cannot ensure the JetStream streams; batches wait in the outbox", {
            err: String(err),
          });
        }
        this.#setConnected(true);
        this.#track(this.#watchStatus(nc));
        this.#track(this.#consumeResults(nc, libs));
        return;
      } catch (err) {
        const fields = { err: String(err) };
        const msg = "cannot connect to NATS yet; answering from the edge meanwhile";
        if (failures++ === 0) this.#o.logger.warn(msg, fields);
        else this.#o.logger.debug(msg, fields);
        await sleep(this.#o.reconnectDelayMs ?? DEFAULT_RECONNECT_DELAY_MS, this.#closing.signal);
      }
    }
  }

  #setConnected(up: boolean): void {
    this.#state = up ? "connected" : this.#closed ? "closed" : "reconnecting";
    this.#o.metrics.natsConnected.set(up ? 1 : 0);
    if (up) this.#o.onConnected?.();
  }

  async #watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        this.#o.logger.warn("NATS disconnected", { server: s.server });
        this.#setConnected(false);
      } else if (s.type === "reconnect") {
        this.#o.logger.info("NATS reconnected", { server: s.server });
        this.#setConnected(true);
      } else if (s.type === "close") {
        this.#setConnected(false);
      }
    }
  }

  /** Keeps the device's durable results consumer running across errors and reconnects. */
  async #consumeResults(nc: NatsConnection, { js, streams }: NatsLibraries): Promise<void> {
    while (!this.#closed && !nc.isClosed()) {
      try {
        const jsm = await js.jetstreamManager(nc);
        await streams.ensureStreams(jsm, this.#o.subjects);
        const name = await streams.ensureResultsConsumer(jsm, this.#o.subjects, this.#o.deviceId);
        const consumer = await js.jetstream(nc).consumers.get(this.#o.subjects.streams.results.name, name);
        const messages = await consumer.consume();
        this.#stopConsumer = () => void messages.close();
        if (this.#closed) await messages.close();
        for await (const m of messages) {
          let result: DeviceResult;
          try {
            result = decode(DeviceResultSchema, m.data, {
              what: "device result",
              maxBytes: MAX_RESULT_MESSAGE_BYTES,
            });
          } catch (err) {
            this.#o.logger.error("dropping a malformed device result", { err: String(err), seq: m.seq });
            m.term();
            continue;
          }
          try {
            await this.#o.onResult(result);
            this.#o.metrics.resultsReceived.inc();
            m.ack();
          } catch (err) {
            this.#o.logger.error("cannot store a device result; it will be redelivered", {
              err: String(err),
            });
            m.nak(1_000);
          }
        }
      } catch (err) {
        if (this.#closed) return;
        this.#o.logger.warn("results consumer stopped; restarting", { err: String(err) });
      }
      if (!this.#closed)
        await sleep(this.#o.reconnectDelayMs ?? DEFAULT_RECONNECT_DELAY_MS, this.#closing.signal);
    }
  }
}

/** A failed escalation request as a TiergateError (no responders: retryable; timeout: deadline). */
function requestError(err: unknown, natsErrors: typeof NatsCore.errors): TiergateError {
  if (err instanceof TiergateError) return err;
  if (err instanceof natsErrors.RequestError && err.isNoResponders()) {
    return new TiergateError(ErrorCode.UNAVAILABLE, "no coordinator is listening", { cause: err });
  }
  if (err instanceof natsErrors.NoRespondersError) {
    return new TiergateError(ErrorCode.UNAVAILABLE, "no coordinator is listening", { cause: err });
  }
  if (
    err instanceof natsErrors.TimeoutError ||
    (err instanceof Error && err.cause instanceof natsErrors.TimeoutError)
  ) {
    return new TiergateError(ErrorCode.DEADLINE_EXCEEDED, "no answer from the cloud in time", {
      cause: err,
    });
  }
  return toTiergateError(err, ErrorCode.UNAVAILABLE);
}

/** `promise`'s value, or undefined as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const abort = (): void => resolve(undefined);
    signal.addEventListener("abort", abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", abort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", abort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, undefined, signal === undefined ? {} : { signal }).catch(() => undefined);
}
