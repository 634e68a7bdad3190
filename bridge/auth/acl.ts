/**
 * The ACL of the topic contract (design, "MQTT topics"): a truck publishes only under its own id, to telemetry,
 * events, status or latest; it subscribes only to its own config topic and the confirmation topic below it.
 */
import { confirmTopic, parseTopic, type TopicKind, topicFor } from "../../protocol/topics.ts";

export type PublishKind = Extract<TopicKind, "telemetry" | "events" | "status" | "latest">;

export type PublishDecision = { ok: true; kind: PublishKind } | { ok: false; reason: string };

export function checkPublish(truckId: string, topic: string): PublishDecision {
  const parsed = parseTopic(topic);
  if (!parsed) return { ok: false, reason: `topic ${JSON.stringify(topic)} is not a fleetsync/v1 topic` };
  if (parsed.truckId !== truckId) return { ok: false, reason: `truck ${truckId} may not publish as ${parsed.truckId}` };
  if (parsed.kind === "config") return { ok: false, reason: "trucks do not publish to config" };
  return { ok: true, kind: parsed.kind };
}

export function maySubscribe(truckId: string, filter: string): boolean {
  return filter === topicFor(truckId, "config") || filter === confirmTopic(truckId);
}
