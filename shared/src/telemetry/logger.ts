// Structured logging through one injected Logger. `createConsoleLogger` is the only place in
// tiergate that writes log lines to stderr; library code receives a Logger and never uses console.*.
export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const DEFAULT_LOG_LEVEL: LogLevel = "info";

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every entry. */
  child(fields: LogFields): Logger;
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && (LOG_LEVELS as readonly string[]).includes(value);
}

export interface ConsoleLoggerOptions {
  level?: LogLevel;
  /** One JSON object per line (default) or `time LEVEL msg key=value` text. */
  json?: boolean;
  /** Where lines go; default process.stderr. */
  write?: (line: string) => void;
  /** Clock for timestamps; default Date.now. */
  now?: () => number;
  fields?: LogFields;
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const threshold = RANK[options.level ?? DEFAULT_LOG_LEVEL];
  const json = options.json ?? true;
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const now = options.now ?? Date.now;

  const make = (base: LogFields): Logger => {
    const log = (level: Exclude<LogLevel, "silent">, msg: string, fields?: LogFields): void => {
      if (RANK[level] < threshold) return;
      try {
        const all = fields === undefined ? base : { ...base, ...fields };
        write(json ? jsonLine(now(), level, msg, all) : textLine(now(), level, msg, all));
      } catch {
        // logging never throws into business code
      }
    };
    return {
      debug: (msg, fields) => log("debug", msg, fields),
      info: (msg, fields) => log("info", msg, fields),
      warn: (msg, fields) => log("warn", msg, fields),
      error: (msg, fields) => log("error", msg, fields),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make(options.fields ?? {});
}

const noop = (): void => {};

/** Drops everything. */
export const silentLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};

function jsonLine(time: number, level: string, msg: string, fields: LogFields): string {
  const entry = { time: new Date(time).toISOString(), level, msg, ...fields };
  return `${safeStringify(entry)}\n`;
}

function textLine(time: number, level: string, msg: string, fields: LogFields): string {
  const parts = [new Date(time).toISOString(), level.toUpperCase().padEnd(5), msg];
  for (const [key, value] of Object.entries(fields)) {
    if (typeof value === "string") {
      parts.push(`${key}=${/[\s"=]/.test(value) || value === "" ? JSON.stringify(value) : value}`);
    } else if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
      parts.push(`${key}=${String(value)}`);
    } else {
      parts.push(`${key}=${safeStringify(value)}`);
    }
  }
  return `${parts.join(" ")}\n`;
}

/** JSON.stringify that renders Errors (name, message, code, cause), bigints, and cycles. */
function safeStringify(value: unknown): string {
  const seen = new WeakSet<object>();
  return (
    JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === "bigint") return v.toString();
      if (v instanceof Error) {
        const out: Record<string, unknown> = { name: v.name, message: v.message };
        if ("code" in v) out["code"] = v.code;
        if (v.cause !== undefined) out["cause"] = v.cause;
        return out;
      }
      if (typeof v === "object" && v !== null) {
        if (seen.has(v)) return "[circular]";
        seen.add(v);
      }
      return v;
    }) ?? "undefined"
  );
}
