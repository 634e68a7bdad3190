/**
 * `fleetsync detect [--config FILE] [--geofences FILE] [--port N]`: the detectors (consumer group
 * fleetsync-detect) that write alerts to fleet.alerts. Prints one JSON line when ready, then one line per alert
 * change ({"alert": ...}) so a terminal shows what was raised. Without --config: Kafka from KAFKA_BROKERS
 * (default 127.0.0.1:39092), the contract's topic names, default thresholds (docs/pipelines.md, "detect").
 */
import { createLogger } from "../common/log.ts";
import { alertJson } from "../protocol/alerts.ts";
import {
  type DetectConfig,
  DetectConfigSchema,
  loadDetectConfig,
  parseDetectConfig,
} from "../pipelines/detect/config.ts";
import { createDetectService } from "../pipelines/detect/service.ts";
import { warnTopicsLeftAtDefault } from "../pipelines/runtime/index.ts";
import { parseCommandArgs } from "./commands.ts";
import { untilSignal } from "./signals.ts";

const USAGE = `Usage: fleetsync detect [--config FILE] [--geofences FILE] [--port PORT]
  Watch every truck's stream for idling, silence, fuel drops, trouble codes and geofences; write alerts to
  fleet.alerts (exactly once, deterministic ids) and print them here. Defaults: Kafka from KAFKA_BROKERS
  (127.0.0.1:39092), operations endpoint on 127.0.0.1:8092. Rewind with: fleetsync replay --group fleetsync-detect.
  See docs/pipelines.md ("detect") for the configuration file.
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    options: {
      config: { type: "string" },
      geofences: { type: "string" },
      port: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const base: DetectConfig = values.config
    ? await loadDetectConfig(values.config)
    : parseDetectConfig(
        { kafka: { brokers: (process.env.KAFKA_BROKERS ?? "127.0.0.1:39092").split(",").map((b) => b.trim()) } },
        "default configuration",
      );
  const config = parseDetectConfig(
    {
      ...base,
      ...(values.port !== undefined ? { http: { ...base.http, port: Number(values.port) } } : {}),
      detectors: {
        ...base.detectors,
        geofence: {
          ...base.detectors.geofence,
          ...(values.geofences !== undefined ? { file: values.geofences } : {}),
        },
      },
    },
    values.config ?? "command line",
  );
  const logger = createLogger("detect");
  warnTopicsLeftAtDefault(logger, config.topics, DetectConfigSchema.shape.topics.parse(undefined));
  const service = createDetectService(config, {
    logger,
    onAlerts(alerts) {
      // One write per checkpoint: stdout to a pipe is written synchronously, a system call per write, and a
      // catch-up commits thousands of alerts at a time.
      let lines = "";
      for (const alert of alerts) lines += `{"alert":${alertJson(alert)}}\n`;
      process.stdout.write(lines);
    },
  });
  await service.start();
  process.stdout.write(`${JSON.stringify({ ready: true, http: service.address()?.port })}\n`);
  await untilSignal(logger, () => service.stop());
  process.stdout.write(`${JSON.stringify({ stopped: true })}\n`);
  return 0;
}
