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
        "Token bucket per source IP: sustained new connections per second; burst = 5x. Over it: dropped at once.",
      ),
    maxAuthFailuresPerSource: z
      .number()
      .int()
      .positive()
      .default(10)
      .describe("Failed logins from one source IP within authFailureWindowMs before it is blocked for blockMs."),
    authFailureWindowMs: z.number().int().positive().default(60_000),
    blockMs: z.number().int().positive().default(300_000).describe("How long a source stays blocked."),
    maxTrackedSources: z
      .number()
      .int()
      .positive()
      .default(100_000)
      .describe("Cap of the per-source tables; when full the oldest entry is forgotten."),
  })
  .strict();

export type AuthConfig = z.infer<typeof AuthConfigSchema>;
