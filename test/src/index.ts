// ── harness: real nats-server / redis-server and other processes for tests ──
export { HarnessError, HarnessErrorCode } from "./harness/errors.ts";
export {
  DEFAULT_READY_TIMEOUT_MS,
  DEFAULT_STOP_TIMEOUT_MS,
  startProcess,
  type ExitStatus,
  type ProcessHandle,
  type Readiness,
  type StartProcessOptions,
} from "./harness/process.ts";
export { startNatsServer, type NatsServerHandle, type NatsServerOptions } from "./harness/nats-server.ts";
export { startRedisServer, type RedisServerHandle, type RedisServerOptions } from "./harness/redis-server.ts";
export {
  findBinary,
  freePort,
  isProcessAlive,
  makeTempDir,
  probeLine,
  waitFor,
  type TempDir,
  type WaitForOptions,
} from "./harness/util.ts";
export { liveChildPids } from "./harness/registry.ts";
