import { z } from "zod";

export const AuthConfigSchema = z
  .object({
    credentialsFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Path of the per-truck credentials file (salted scrypt hashes; `fleetsync bridge add-truck` writes it). " +
          "Re-read when it changes, so trucks can be added without a restart. Without it, only client certificates log in.",
      ),
    allowClientCertificates: z
      .boolean()
      .default(true)
      .describe(
        "On the TLS listener, a verified client certificate whose CN is the truck id logs in without a password.",
      ),
    maxConnectionsPerSecondPerSource: z
      .number()
      .positive()
      .default(20)
      .describe(
        "Token bucket per source (IPv4 address, IPv6 /64): sustained new connections per second; burst = 5x. " +
          "Over it: dropped at once.",
      ),
    maxAuthFailuresPerTruck: z
      .number()
      .int()
      .positive()
      .default(10)
      .describe(
        "Failed logins for one truck id from one source (IPv4 address, IPv6 /64) within authFailureWindowMs before " +
          "that truck id is refused from that source for blockMs (CONNACK Not authorized). Other trucks behind the " +
          "same address are not affected.",
      ),
    maxAuthFailuresPerSource: z
      .number()
      .int()
      .positive()
      .default(200)
      .describe(
        "Failed logins from one source, whatever the truck ids, within authFailureWindowMs before every login from " +
          "it is refused for blockMs. Much higher than maxAuthFailuresPerTruck: many trucks share a carrier's address.",
      ),
    authFailureWindowMs: z.number().int().positive().default(60_000),
    blockMs: z
      .number()
      .int()
      .positive()
      .default(300_000)
      .describe("How long a blocked (source, truck id) or source stays blocked."),
    maxTrackedSources: z
      .number()
      .int()
      .positive()
      .default(100_000)
      .describe("Cap of the per-source tables; when full the oldest entry is forgotten."),
  })
  .strict();

export type AuthConfig = z.infer<typeof AuthConfigSchema>;
