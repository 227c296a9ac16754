// The local HTTP API (fastify 5): POST /v1/infer, GET /v1/results/:id, /healthz, /readyz, /metrics.
// Bodies are read as bytes and parsed here, so every bad input becomes a typed error; one error
// handler maps codes to status codes. Nothing a caller sends can take the process down.
import { createRequire } from "node:module";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from "fastify";
import {
  errorBody,
  ErrorCode,
  extractTraceContext,
  idProblem,
  TiergateError,
  toTiergateError,
  type InferResult,
  type Logger,
  drainRequestBody,
} from "@tiergate/shared";
import type { EdgeEngine } from "../engine/engine.ts";
import type { ResultsSink } from "../engine/types.ts";
import type { EdgeMetrics } from "../metrics/metrics.ts";

/** Request bodies larger than this are refused before parsing (JSON escaping can grow text 6×). */
export const MIN_BODY_LIMIT_BYTES = 64 * 1024;
export const JSON_ESCAPE_FACTOR = 6;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export type Readiness = { ready: boolean; [key: string]: unknown };

export type HttpServerOptions = {
  engine: EdgeEngine;
  results: ResultsSink;
  metrics: EdgeMetrics;
  logger: Logger;
  readiness: () => Readiness;
  /** Largest maxInputBytes of any task (sets the body limit). */
  maxInputBytes: number;
};

const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ErrorCode.INPUT_TOO_LARGE,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  FST_ERR_CTP_EMPTY_JSON_BODY: ErrorCode.INVALID_JSON,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ErrorCode.BAD_REQUEST,
};

/** Any throwable from a route or from fastify itself, as a TiergateError. */
export function httpError(err: unknown): TiergateError {
  if (err instanceof TiergateError) return err;
  const fe = err as Partial<FastifyError>;
  const mapped = typeof fe.code === "string" ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped !== undefined) return new TiergateError(mapped, fe.message ?? mapped, { cause: err });
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new TiergateError(ErrorCode.BAD_REQUEST, fe.message ?? "bad request", { cause: err });
  }
  return toTiergateError(err);
}

type CompilersFactory = NonNullable<
  NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]
>;
type BuildValidator = NonNullable<CompilersFactory["buildValidator"]>;
type BuildSerializer = NonNullable<CompilersFactory["buildSerializer"]>;

/**
 * fastify's own schema compilers (ajv, fast-json-stringify), required on first use. Without a
 * factory fastify builds both when the server is created, ajv's meta-schemas included: about a
 * tenth of start-to-ready, for routes that declare no schema. A route that does gets the same
 * compilers as before, built then.
 */
function lazyDefaultCompilers(): Required<CompilersFactory> {
  const fromFastify = createRequire(import.meta.resolve("fastify"));
  let validator: BuildValidator | undefined;
  let serializer: BuildSerializer | undefined;
  return {
    buildValidator: (schemas, ajvOptions) => {
      validator ??= (fromFastify("@fastify/ajv-compiler") as () => BuildValidator)();
      return validator(schemas, ajvOptions);
    },
    buildSerializer: (schemas, serializerOptions) => {
      serializer ??= (fromFastify("@fastify/fast-json-stringify-compiler") as () => BuildSerializer)();
      return serializer(schemas, serializerOptions);
    },
  };
}

export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const { engine, results, metrics, logger } = options;
  const app = Fastify({
    logger: false,
    schemaController: { compilersFactory: lazyDefaultCompilers() },
    bodyLimit: Math.max(MIN_BODY_LIMIT_BYTES, options.maxInputBytes * JSON_ESCAPE_FACTOR),
    requestTimeout: DEFAULT_REQUEST_TIMEOUT_MS,
    return503OnClosing: true,
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string) as unknown);
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      done(
        new TiergateError(ErrorCode.INVALID_JSON, `request body is not valid JSON: ${reason}`, { cause }),
        undefined,
      );
    }
  });

  app.setErrorHandler(async (err, req, reply) => {
    const e = httpError(err);
    // Read what is left of a refused body, so a client still sending it reads the 413.
    if (e.code === ErrorCode.INPUT_TOO_LARGE) await drainRequestBody(req.raw);
    if (e.httpStatus >= 500) logger.error("request failed", { code: e.code, err: e.message });
    else metrics.badRequests.inc({ code: e.code });
    if (e.httpStatus < 500) metrics.totals.badRequests++;
    return await reply.status(e.httpStatus).send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply
      .status(404)
      .send(errorBody(new TiergateError(ErrorCode.NOT_FOUND, `no route ${req.method} ${req.url}`)));
  });

  app.post("/v1/infer", async (req): Promise<InferResult> => {
    if (req.body === undefined || req.body === null) {
      throw new TiergateError(ErrorCode.INVALID_JSON, "send a JSON body with content-type application/json");
    }
    const h = req.headers;
    const parent = extractTraceContext((k) => {
      const v = h[k];
      return Array.isArray(v) ? v[0] : v;
    });
    return engine.infer(req.body, parent);
  });

  app.get<{ Params: { id: string } }>("/v1/results/:id", async (req, reply) => {
    const id = req.params.id;
    const problem = idProblem(id);
    if (problem !== undefined) throw new TiergateError(ErrorCode.INVALID_ID, `id ${problem}`);
    const stored = results.get(id);
    if (stored === undefined) throw new TiergateError(ErrorCode.NOT_FOUND, `no result for id ${id}`);
    return reply.send(stored.result);
  });

  app.get("/healthz", (_req, reply) => reply.send({ status: "ok" }));

  app.get("/readyz", async (_req, reply) => {
    const r = options.readiness();
    return reply.status(r.ready ? 200 : 503).send(r);
  });

  app.get("/metrics", async (_req, reply) => {
    const text = await metrics.text();
    return reply.header("content-type", metrics.contentType).send(text);
  });

  return app;
}
