import { z } from "zod";
import { MAX_RECORDS_PER_PAYLOAD } from "../../protocol/index.ts";

/**
 * The MQTT uplink. When-full policy: at most `inflightBatches` batches per channel wait for their PUBACK; the
 * rest of the backlog stays in the outbox on disk until a slot frees, so memory use does not grow with it.
 * Two lanes (issue 20): the ordered drain of the outbox (telemetry, events), paced by `drainBytesPerSecond`, and the
 * latest lane, one record with the truck's current state, never paced and sent ahead of the backlog on reconnect.
 */
export const UplinkConfigSchema = z
  .object({
    url: z
      .string()
      .regex(/^(mqtts?|tls|tcp|ssl):\/\/[^\s/]+/, "must be mqtt://host:port or mqtts://host:port")
      .describe("Broker URL: mqtts://host:8883 (TLS) or mqtt://host:1883 (plain, for tests and closed networks)."),
    password: z.string().min(1).optional().describe("The truck's MQTT password. The username is the truck id."),
    caFile: z
      .string()
      .min(1)
      .optional()
      .describe("PEM file of the CA that signed the broker's certificate (the fleet's own CA). Default: system CAs."),
    protocolVersion: z
      .union([z.literal(5), z.literal(4)])
      .default(5)
      .describe("MQTT 5 (default) or 4 = MQTT 3.1.1, for brokers that do not speak MQTT 5."),
    keepaliveS: z
      .number()
      .int()
      .min(10)
      .max(1200)
      .default(60)
      .describe("MQTT keepalive. 60 s keeps cellular NAT mappings alive (carriers drop idle UDP/TCP after 2-5 min)."),
    sessionExpiryS: z
      .number()
      .int()
      .min(0)
      .default(7 * 24 * 3600)
      .describe("Persistent session lifetime on the broker (MQTT 5 session expiry; clean = false on 3.1.1)."),
    connectTimeoutMs: z
      .number()
      .int()
      .min(1000)
      .default(30_000)
      .describe("Give up on one connection attempt after this."),
    reconnectMinMs: z.number().int().min(10).default(1_000).describe("First wait before reconnecting."),
    reconnectMaxMs: z
      .number()
      .int()
      .min(10)
      .default(120_000)
      .describe("Longest wait between attempts; waits double up to it, each with random jitter (0.5x..1.5x)."),
    maxBatchRecords: z
      .number()
      .int()
      .min(1)
      .max(MAX_RECORDS_PER_PAYLOAD)
      .default(MAX_RECORDS_PER_PAYLOAD)
      .describe(
        "Largest batch per publish. Live records go as soon as committed (small batches); a backlog drains in large ones. Also bounded by the codec's MAX_PAYLOAD_BYTES.",
      ),
    inflightBatches: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(8)
      .describe("Batches per channel published and waiting for PUBACK at once (the in-flight window)."),
    format: z
      .enum(["binary", "json"])
      .default("binary")
      .describe("Wire format (binary saves cellular data; json for debugging)."),
    drainBytesPerSecond: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        "Pacing of the outbox drain, in payload bytes per second (0: not paced). Bytes, not records, because bytes are what the cellular link carries and the contract bills; set it to the share of the link the backlog may take (e.g. 8000 on a 128 kbit/s link gives the backlog half of it). A batch goes out when the running allowance is positive (bursts of up to one second's worth); the latest lane is never paced, so a truck's current state is not starved by its backlog.",
      ),
    latestIntervalMs: z
      .number()
      .int()
      .min(0)
      .default(1_000)
      .describe(
        "The latest lane (fleetsync/v1/{truckId}/latest -> fleet.latest): the newest telemetry record is sent at once on every (re)connect, before the backlog, then again whenever a newer record is stuck behind a backlog, at most once per this many ms. 0: no latest lane.",
      ),
    latestRefreshMs: z
      .number()
      .int()
      .min(0)
      .default(60_000)
      .describe(
        "With no backlog the latest lane repeats the newest record at most once per this many ms, so fleet.latest stays current for consumers that read only it (0: only on reconnect and while a backlog drains).",
      ),
    stopTimeoutMs: z
      .number()
      .int()
      .min(0)
      .default(2_000)
      .describe("On stop, wait this long for in-flight PUBACKs (what is not acknowledged stays in the outbox)."),
  })
  .strict();

export type UplinkConfig = z.infer<typeof UplinkConfigSchema>;
