/**
 * The bridge's configuration: one JSON file validated against this schema at start (the field docs below are the
 * configuration reference, see docs/bridge.md). Errors name the file and the field. Relative paths in the file are
 * resolved against the file's folder.
 */
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { parseConfig, readConfigJson } from "../common/config.ts";
import { resolveKafkaSecurityPaths } from "../common/kafka/security.ts";
import { AuthConfigSchema } from "./auth/index.ts";
import { DownlinkConfigSchema } from "./downlink/index.ts";
import { ForwarderConfigSchema } from "./forwarder/index.ts";
import { KafkaSinkConfigSchema } from "./kafka-sink/index.ts";
import { ListenerConfigSchema } from "./listener/index.ts";
import { HttpConfigSchema } from "./metrics/index.ts";

export const BridgeConfigSchema = z
  .object({
    id: z.string().min(1).optional().describe("This bridge's name in logs and Aedes' broker id (default: random)."),
    listener: ListenerConfigSchema,
    auth: AuthConfigSchema.prefault({}),
    kafka: KafkaSinkConfigSchema,
    forwarder: ForwarderConfigSchema.prefault({}),
    downlink: DownlinkConfigSchema.prefault({}).describe(
      "Remote configuration: desired configs read from fleet.config, delivered to trucks (docs/operations.md).",
    ),
    http: HttpConfigSchema.optional().describe("Metrics and health endpoint; omit to disable."),
  })
  .strict();

export type BridgeConfig = z.infer<typeof BridgeConfigSchema>;
export type BridgeConfigInput = z.input<typeof BridgeConfigSchema>;

export function parseBridgeConfig(input: unknown, source = "bridge configuration"): BridgeConfig {
  return parseConfig(BridgeConfigSchema, input, source);
}

export async function loadBridgeConfig(file: string): Promise<BridgeConfig> {
  const config = parseBridgeConfig(await readConfigJson(file), file);
  const base = dirname(resolve(file));
  const at = (path: string | undefined) => (path === undefined ? undefined : resolve(base, path));
  return {
    ...config,
    auth: { ...config.auth, credentialsFile: at(config.auth.credentialsFile) },
    kafka: resolveKafkaSecurityPaths(config.kafka, (path) => resolve(base, path)),
    listener: {
      ...config.listener,
      tls: config.listener.tls && {
        ...config.listener.tls,
        certFile: at(config.listener.tls.certFile)!,
        keyFile: at(config.listener.tls.keyFile)!,
        caFile: at(config.listener.tls.caFile),
      },
    },
  };
}
