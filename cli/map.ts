/**
 * `fleetsync map [--config FILE] [--host H] [--port N]`: the live fleet map (consumer group fleetsync-map) and its
 * web page. Without --config: Kafka from KAFKA_BROKERS (default 127.0.0.1:39092), the contract's topic names,
 * 127.0.0.1:8090. The access token comes from FLEETSYNC_MAP_TOKEN (an argument would show in `ps`).
 */
import { createLogger } from "../common/log.ts";
import {
  createMapService,
  loadMapConfig,
  type MapConfig,
  MapConfigSchema,
  parseMapConfig,
} from "../pipelines/map/index.ts";
import { warnTopicsLeftAtDefault } from "../pipelines/runtime/index.ts";
import { parseCommandArgs } from "./commands.ts";
import { untilSignal } from "./signals.ts";

const USAGE = `Usage: fleetsync map [--config FILE] [--host HOST] [--port PORT]
  Serve the live fleet map: open the printed URL in a browser. Defaults: Kafka from KAFKA_BROKERS
  (127.0.0.1:39092), http://127.0.0.1:8090/. FLEETSYNC_MAP_TOKEN sets an access token (needed off loopback).
  See docs/pipelines.md for the configuration file.
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    options: {
      config: { type: "string" },
      host: { type: "string" },
      port: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const base: MapConfig = values.config
    ? await loadMapConfig(values.config)
    : parseMapConfig(
        { kafka: { brokers: (process.env.KAFKA_BROKERS ?? "127.0.0.1:39092").split(",").map((b) => b.trim()) } },
        "default configuration",
      );
  const token = process.env.FLEETSYNC_MAP_TOKEN;
  const config = parseMapConfig(
    {
      ...base,
      http: {
        ...base.http,
        ...(values.host !== undefined ? { host: values.host } : {}),
        ...(values.port !== undefined ? { port: Number(values.port) } : {}),
        ...(token ? { token } : {}),
      },
    },
    values.config ?? "command line",
  );
  const logger = createLogger("map");
  warnTopicsLeftAtDefault(logger, config.topics, MapConfigSchema.shape.topics.parse(undefined));
  const service = createMapService(config, { logger });
  await service.start();
  process.stdout.write(`${JSON.stringify({ ready: true, url: service.url(), http: service.address()?.port })}\n`);
  await untilSignal(logger, () => service.stop());
  process.stdout.write(`${JSON.stringify({ stopped: true })}\n`);
  return 0;
}
