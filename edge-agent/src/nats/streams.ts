// Idempotent set-up of the JetStream streams and the device's durable results consumer, from the
// names in shared's subjects. The coordinator does the same; whoever comes first creates them.
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { StreamSpec, Subjects } from "@tiergate/shared";

/** JetStream API error code for "stream name already in use" (not in JetStreamApiCodes). */
const STREAM_NAME_IN_USE = 10058;
/** JetStream drops a batch re-sent with the same message id within this window. */
export const BATCH_DUPLICATE_WINDOW_MS = 10 * 60_000;
/** Redelivery wait for a result the agent did not acknowledge. */
export const RESULTS_ACK_WAIT_MS = 30_000;

async function ensureStream(
  jsm: JetStreamManager,
  spec: StreamSpec,
  config: Partial<StreamConfig>,
): Promise<void> {
  try {
    await jsm.streams.info(spec.name);
    return;
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.StreamNotFound) throw err;
  }
  try {
    await jsm.streams.add({ name: spec.name, subjects: spec.subjects, storage: StorageType.File, ...config });
  } catch (err) {
    // Another process created it between our info and add: fine (10058: stream name already in use).
    if (!(err instanceof JetStreamApiError) || err.code !== STREAM_NAME_IN_USE) throw err;
  }
}

export async function ensureStreams(jsm: JetStreamManager, subjects: Subjects): Promise<void> {
  await ensureStream(jsm, subjects.streams.batch, { duplicate_window: nanos(BATCH_DUPLICATE_WINDOW_MS) });
  await ensureStream(jsm, subjects.streams.results, { duplicate_window: nanos(BATCH_DUPLICATE_WINDOW_MS) });
}

/** The device's durable pull consumer on the results stream; returns its name. */
export async function ensureResultsConsumer(
  jsm: JetStreamManager,
  subjects: Subjects,
  deviceId: string,
): Promise<string> {
  const name = subjects.resultsConsumer(deviceId);
  try {
    await jsm.consumers.info(subjects.streams.results.name, name);
    return name;
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.ConsumerNotFound) throw err;
  }
  await jsm.consumers.add(subjects.streams.results.name, {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: subjects.results(deviceId),
    ack_wait: nanos(RESULTS_ACK_WAIT_MS),
  });
  return name;
}
