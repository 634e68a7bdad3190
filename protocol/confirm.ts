/**
 * End-to-end confirmation for installers (MQTT 5 request/response, MQTT 5.0 spec section 4.10): `fleetsync doctor`
 * publishes a test telemetry record with the PUBLISH properties `responseTopic = confirmTopic(truckId)` and a
 * random `correlationData`. After Kafka acknowledged that record, the bridge publishes a ConfirmReply to the
 * response topic with the same correlationData, so the installer sees "written to fleet.telemetry partition 3
 * offset 1234" from the truck's seat. MQTT 3.1.1 clients have no response topic and get no reply.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { FleetError } from "../common/errors.ts";
import { confirmTopic } from "./topics.ts";

export const ConfirmReplySchema = z
  .discriminatedUnion("ok", [
    z
      .object({
        ok: z.literal(true),
        topic: z.string().min(1).describe("The Kafka topic the records were written to."),
        partition: z.number().int().min(0).describe("The Kafka partition (the truck's partition)."),
        offset: z.string().regex(/^\d+$/).describe("Kafka offset of the first record, as a decimal string (int64)."),
        records: z.number().int().min(0).describe("How many records of the request Kafka acknowledged."),
      })
      .strict(),
    z
      .object({
        ok: z.literal(false),
        code: z
          .string()
          .regex(/^FLEET_[A-Z0-9_]+$/)
          .describe("The FleetError code, e.g. FLEET_PAYLOAD_INVALID."),
        reason: z.string().max(500).describe("What went wrong, for the installer to read."),
      })
      .strict(),
  ])
  .describe("The bridge's answer to a confirmation request, published to fleetsync/v1/{truckId}/config/confirm.");

export type ConfirmReply = z.infer<typeof ConfirmReplySchema>;

/** The MQTT 5 PUBLISH properties a confirmation request carries (pass them as `properties` to MQTT.js publish). */
export function confirmRequestProperties(
  truckId: string,
  correlationData: Buffer = newCorrelationData(),
): { responseTopic: string; correlationData: Buffer } {
  return { responseTopic: confirmTopic(truckId), correlationData };
}

/** 16 random bytes: enough that a stale reply to an earlier request is never mistaken for this one. */
export function newCorrelationData(): Buffer {
  return randomBytes(16);
}

export function encodeConfirmReply(reply: ConfirmReply): Buffer {
  return Buffer.from(JSON.stringify(ConfirmReplySchema.parse(reply)), "utf8");
}

/** Parses a reply payload; throws FleetError FLEET_PAYLOAD_INVALID naming what was wrong. */
export function parseConfirmReply(payload: Uint8Array): ConfirmReply {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch (error) {
    throw new FleetError("FLEET_PAYLOAD_INVALID", `confirm reply is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const parsed = ConfirmReplySchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new FleetError(
      "FLEET_PAYLOAD_INVALID",
      `confirm reply is not valid: ${issue.path.map(String).join(".") || "(root)"}: ${issue.message}`,
    );
  }
  return parsed.data;
}
