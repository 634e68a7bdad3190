import { z } from "zod";
import { MAX_PAYLOAD_BYTES } from "../../protocol/codec.ts";

const Port = z.number().int().min(0).max(65_535);

export const ListenerConfigSchema = z
  .object({
    tcp: z
      .object({
        host: z.string().default("0.0.0.0"),
        port: Port.default(1883).describe(
          "Plain MQTT (put it behind a private network or a TLS-terminating balancer).",
        ),
      })
      .strict()
      .optional()
      .describe("Plain TCP listener; omit to disable."),
    tls: z
      .object({
        host: z.string().default("0.0.0.0"),
        port: Port.default(8883),
        certFile: z.string().min(1).describe("PEM server certificate (chain)."),
        keyFile: z.string().min(1).describe("PEM private key."),
        caFile: z.string().min(1).optional().describe("PEM CA that signs truck client certificates."),
        requireClientCertificate: z
          .boolean()
          .default(false)
          .describe("Refuse TLS clients without a certificate signed by caFile (else password login is allowed)."),
      })
      .strict()
      // Without a CA Node requests no client certificate at all, so the requirement would silently do nothing.
      .refine((tls) => !tls.requireClientCertificate || tls.caFile !== undefined, {
        message: "requireClientCertificate needs caFile (the CA that signs truck certificates)",
        path: ["requireClientCertificate"],
      })
      .optional()
      .describe("TLS listener; omit to disable."),
    maxPacketBytes: z
      .number()
      .int()
      .positive()
      .default(MAX_PAYLOAD_BYTES + 1024)
      .describe("Largest MQTT packet accepted; a connection sending a larger one is closed before it is buffered."),
    maxPreLoginBytes: z
      .number()
      .int()
      .min(1_024)
      .default(16_384)
      .describe(
        "Bytes a connection may send before its login completes (a CONNECT is small: ids, credentials, a will). " +
          "More: the connection is closed (refused reason pre-login-bytes).",
      ),
    maxPreLoginBytesTotal: z
      .number()
      .int()
      .min(1_024)
      .default(32 * 1024 * 1024)
      .describe(
        "Bytes all connections that have not logged in may hold together. When reached, new connections are " +
          "refused and a read that would go over closes its connection (reason pre-login-budget): the bridge " +
          "refuses rather than grows.",
      ),
    maxConnections: z
      .number()
      .int()
      .positive()
      .default(50_000)
      .describe("Connections held at once; further connections are closed at once."),
    receiveMaximum: z
      .number()
      .int()
      .min(1)
      .max(65_535)
      .default(100)
      .describe("MQTT 5 Receive Maximum announced to v5 clients: unacknowledged QoS 1 publishes per connection."),
    connectTimeoutMs: z.number().int().positive().default(10_000).describe("Time to send CONNECT after TCP connect."),
    backlog: z
      .number()
      .int()
      .min(1)
      .max(65_535)
      .default(4_096)
      .describe(
        "Connections the kernel completes and queues before the bridge accepts them (listen(2) backlog, capped by " +
          "net.core.somaxconn). A reconnect storm brings thousands at once; beyond the queue the kernel drops them " +
          "and the trucks' TCP retries after 1, 3, 7, 15 s: with Node's default of 511 that, not the bridge, paced " +
          "a 5,000-truck storm.",
      ),
  })
  .strict()
  .refine((c) => c.tcp !== undefined || c.tls !== undefined, { message: "configure at least one of tcp and tls" });

export type ListenerConfig = z.infer<typeof ListenerConfigSchema>;
