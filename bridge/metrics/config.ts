import { z } from "zod";

export const HttpConfigSchema = z
  .object({
    host: z.string().default("0.0.0.0"),
    port: z.number().int().min(0).max(65_535).default(9464).describe("GET /metrics, /healthz, /readyz."),
  })
  .strict();

export type HttpConfig = z.infer<typeof HttpConfigSchema>;
