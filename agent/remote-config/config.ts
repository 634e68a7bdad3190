import { z } from "zod";

/** Remote configuration on the truck (docs/operations.md, "Remote configuration"). */
export const RemoteConfigSettingsSchema = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .describe("Subscribe to the truck's config topic and apply what the fleet office sets (fleet.config)."),
    file: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Where the applied remote overlay is kept (written atomically: temp file, fsync, rename). " +
          "Default: next to the outbox folder, `<outbox.dir>.remote-config.json`.",
      ),
  })
  .strict();

export type RemoteConfigSettings = z.infer<typeof RemoteConfigSettingsSchema>;
