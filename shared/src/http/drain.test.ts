import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { drainRequestBody } from "./drain.ts";

type Answer = { status: number } | { error: string };

function post(url: string, body: Buffer): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(url, { method: "POST", headers: { "content-length": body.length } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end(body);
  });
}

describe("drainRequestBody", () => {
  it("gives up at the byte bound and says the body was not read whole", async () => {
    let whole: boolean | undefined;
    const server = createServer((req, res) => {
      void drainRequestBody(req, { maxBytes: 1024 }).then((w) => {
        whole = w;
        res.writeHead(413, { connection: "close" }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      await post(`http://127.0.0.1:${port}/`, Buffer.alloc(4 * 1024 * 1024));
      expect(whole).toBe(false);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("answers at once for a body already read", async () => {
    let whole: boolean | undefined;
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        void drainRequestBody(req).then((w) => {
          whole = w;
          res.end();
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      expect(await post(`http://127.0.0.1:${port}/`, Buffer.from("small"))).toEqual({ status: 200 });
      expect(whole).toBe(true);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
