// Batches from edge agents: a durable JetStream consumer on the batch subjects, shared by every
// coordinator. A message is acknowledged only after its BullMQ job is stored, so nothing is lost
// between the two; a bad message is refused (term) with a log line; a policy refusal is answered on
// the device's results subject, one refused result per item, so the device learns why.
import {
  AckPolicy,
  DeliverPolicy,
  StorageType,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import {
  BatchSubmissionSchema,
  DeviceResultSchema,
  decode,
  encode,
  isRetryable,
  toTiergateError,
  type BatchSubmission,
  type Logger,
  type StreamSpec,
  type Subjects,
  ErrorCode,
  TiergateError,
} from "@tiergate/shared";
import type { CoordinatorMetrics } from "../metrics/metrics.ts";
import type { BatchScheduler } from "./scheduler.ts";
import { refusedResult } from "./worker.ts";

/** How long JetStream waits for an ack before redelivering to another coordinator. */
export const DEFAULT_BATCH_ACK_WAIT_MS = 30_000;
/** Redelivery delay after a retryable failure (Redis unreachable). */
export const DEFAULT_BATCH_NAK_DELAY_MS = 1_000;
/** Window in which JetStream drops a re-published message id (batch id, request id). */
export const DEFAULT_DUPLICATE_WINDOW_MS = 10 * 60_000;
/** Largest batch message accepted. */
export const DEFAULT_MAX_BATCH_MESSAGE_BYTES = 8 * 1_048_576;
const NANOS_PER_MS = 1_000_000;

/** Creates the stream unless it exists (any coordinator or edge may be first). */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  try {
    await jsm.streams.info(spec.name);
    return;
  } catch {
    // not found: create below
  }
  try {
    await jsm.streams.add({
      name: spec.name,
      subjects: spec.subjects,
      storage: StorageType.File,
      duplicate_window: DEFAULT_DUPLICATE_WINDOW_MS * NANOS_PER_MS,
    });
  } catch (err) {
    // Another process created it between our info and add.
    await jsm.streams.info(spec.name).catch(() => {
      throw err;
    });
  }
}

export type EdgeBatchIntakeOptions = {
  js: JetStreamClient;
  jsm: JetStreamManager;
  subjects: Subjects;
  scheduler: BatchScheduler;
  logger: Logger;
  metrics?: CoordinatorMetrics | undefined;
  ackWaitMs?: number;
  nakDelayMs?: number;
};

export class EdgeBatchIntake {
  readonly #o: EdgeBatchIntakeOptions;
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: EdgeBatchIntakeOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    const { jsm, js, subjects } = this.#o;
    await ensureStream(jsm, subjects.streams.batch);
    await ensureStream(jsm, subjects.streams.results);
    const stream = subjects.streams.batch.name;
    try {
      await jsm.consumers.info(stream, subjects.batchConsumer);
    } catch {
      await jsm.consumers.add(stream, {
        durable_name: subjects.batchConsumer,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: (this.#o.ackWaitMs ?? DEFAULT_BATCH_ACK_WAIT_MS) * NANOS_PER_MS,
        filter_subject: subjects.all.batch,
      });
    }
    const consumer = await js.consumers.get(stream, subjects.batchConsumer);
    this.#messages = await consumer.consume();
    const messages = this.#messages;
    this.#loop = (async () => {
      for await (const m of messages) await this.#handle(m);
    })().catch((err: unknown) => this.#o.logger.error("edge batch intake stopped", { err }));
  }

  async #handle(m: JsMsg): Promise<void> {
    let submission: BatchSubmission;
    try {
      submission = decode(BatchSubmissionSchema, m.data, {
        maxBytes: DEFAULT_MAX_BATCH_MESSAGE_BYTES,
        what: "edge batch",
      });
      const onSubject = this.#o.subjects.parse(m.subject);
      if (submission.source !== "edge" || onSubject?.kind !== "batch" || onSubject.id !== submission.deviceId)
        throw new TiergateError(
          ErrorCode.BAD_REQUEST,
          `batch ${submission.batchId} for device ${String(submission.deviceId)} arrived on ${m.subject}`,
        );
    } catch (err) {
      const e = toTiergateError(err);
      this.#o.logger.warn("refused an edge batch message", {
        subject: m.subject,
        code: e.code,
        message: e.message,
      });
      this.#o.metrics?.batch("edge", "invalid");
      m.term(e.message);
      return;
    }
    try {
      const outcome = await this.#o.scheduler.submit(submission);
      this.#o.metrics?.batch(
        "edge",
        outcome.type === "accepted" ? (outcome.status === "delayed" ? "delayed" : "submitted") : "duplicate",
      );
      m.ack();
    } catch (err) {
      const e = toTiergateError(err);
      if (isRetryable(e.code) || e.code === ErrorCode.INTERNAL) {
        this.#o.logger.warn("could not store an edge batch; it will be redelivered", {
          batchId: submission.batchId,
          err,
        });
        m.nak(this.#o.nakDelayMs ?? DEFAULT_BATCH_NAK_DELAY_MS);
        return;
      }
      await this.#refuse(submission, e);
      m.ack();
    }
  }

  async #refuse(submission: BatchSubmission, e: TiergateError): Promise<void> {
    const deviceId = submission.deviceId ?? "";
    this.#o.metrics?.batch("edge", "refused");
    for (const item of submission.items) {
      const msg = DeviceResultSchema.parse({
        deviceId,
        batchId: submission.batchId,
        requestId: item.id,
        result: refusedResult(item, e),
      });
      await this.#o.js.publish(this.#o.subjects.results(deviceId), encode(msg), { msgID: item.id });
    }
  }

  async close(): Promise<void> {
    await this.#messages?.close();
    await this.#loop;
  }
}
