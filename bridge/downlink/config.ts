/** The downlink's settings: where desired configs are read from and how many trucks' configs a bridge keeps. */
import { z } from "zod";
import { DEFAULT_CONFIG_TOPIC } from "../../protocol/remote-config.ts";

export const DownlinkConfigSchema = z
  .object({
    enabled: z.boolean().default(true).describe("Read fleet.config and deliver each truck its desired config."),
    topic: z.string().min(1).default(DEFAULT_CONFIG_TOPIC).describe("The compacted topic of desired configs."),
    maxTrucks: z
      .number()
      .int()
      .positive()
      .default(200_000)
      .describe(
        "At most this many trucks' desired configs are kept in memory (measured: 27 MB of heap for 100,000 trucks with a typical 200-byte config, test/bench/downlink-memory.ts). " +
          "When full, a config for a truck not yet known is not kept (logged and counted); known trucks still update.",
      ),
  })
  .strict();

export type DownlinkConfig = z.infer<typeof DownlinkConfigSchema>;
