// A stand-in for the cloud coordinators in edge tests: a plain NATS subscriber on the escalation
// subjects that answers with the shared EscalationReply contract and records what it received.
import { connect, type Msg, type NatsConnection } from "@nats-io/transport-node";
import {
  decode,
  encode,
  EscalationRequestSchema,
  type EscalationReply,
  type EscalationRequest,
  type Subjects,
} from "@tiergate/shared";

export const CLOUD_LABEL = "cloud_label";
export const CLOUD_ANSWER = "answered by the test cloud";

export type Received = { request: EscalationRequest; headers: Record<string, string> };

export type ResponderOptions = {
  /** Drop the first delivery of each request id (a coordinator that died mid-request). */
  dropFirstDelivery?: boolean;
};

export type Responder = AsyncDisposable & { received: Received[] };

export async function startResponder(
  url: string,
  subjects: Subjects,
  options: ResponderOptions = {},
): Promise<Responder> {
  const nc: NatsConnection = await connect({ servers: url });
  const received: Received[] = [];
  const seen = new Set<string>();
  nc.subscribe(subjects.all.escalate, {
    queue: subjects.escalationQueueGroup,
    callback: (_err, msg: Msg) => {
      const request = decode(EscalationRequestSchema, msg.data);
      const headers: Record<string, string> = {};
      for (const [k, v] of msg.headers ?? []) headers[k] = v.join(",");
      received.push({ request, headers });
      if (options.dropFirstDelivery === true && !seen.has(request.id)) {
        seen.add(request.id);
        return;
      }
      const reply: EscalationReply = {
        id: request.id,
        result: {
          id: request.id,
          task: request.task,
          status: "answered",
          label: CLOUD_LABEL,
          answer: CLOUD_ANSWER,
          confidence: 0.99,
          servedBy: { tier: "medium", where: "cloud", kind: "model", model: "medium", version: "test" },
          degraded: false,
          cached: false,
          attempts: [
            ...request.edgeAttempts,
            {
              tier: "medium",
              where: "cloud",
              kind: "model",
              label: CLOUD_LABEL,
              confidence: 0.99,
              accepted: true,
              durationMs: 1,
            },
          ],
          costUsd: 0.00001,
          timings: { totalMs: 1, steps: [{ step: "tier:medium", durationMs: 1 }] },
        },
      };
      msg.respond(encode(reply));
    },
  });
  await nc.flush();
  return { received, [Symbol.asyncDispose]: () => nc.close() };
}
