// Periodic heartbeat on the device's heartbeat subject (model versions, counters, outbox depth, RTT).
import { HeartbeatSchema, type Heartbeat } from "@tiergate/shared";

export type HeartbeatOptions = {
  intervalMs: number;
  build: () => Heartbeat;
  publish: (hb: Heartbeat) => void;
};

/** Sends one heartbeat at once and then every `intervalMs`; returns the stop function. */
export function startHeartbeat(options: HeartbeatOptions): () => void {
  const beat = (): void => {
    const parsed = HeartbeatSchema.safeParse(options.build());
    if (parsed.success) options.publish(parsed.data);
  };
  beat();
  const timer = setInterval(beat, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
