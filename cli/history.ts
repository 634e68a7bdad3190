/**
 * `fleetsync history [run] [--config FILE]`: every telemetry record and event into PostgreSQL, exactly once.
 * `fleetsync history query --truck T --from WHEN --to WHEN [--events] [--format jsonl|csv]`: read it back.
 * `fleetsync history replay --to WHEN`: rewind the stopped pipeline (its Kafka group and its stored positions).
 * Without --config: Kafka from KAFKA_BROKERS (default 127.0.0.1:39092), the database from DATABASE_URL.
 */
import { FleetError } from "../common/errors.ts";
import { createLogger } from "../common/log.ts";
import {
  createHistoryService,
  createHistoryStore,
  type HistoryConfig,
  HistoryConfigSchema,
  loadHistoryConfig,
  parseHistoryConfig,
} from "../pipelines/history/index.ts";
import { csvField, queryHistory, rowToJson } from "../pipelines/history/query.ts";
import { warnTopicsLeftAtDefault } from "../pipelines/runtime/index.ts";
import { describeMoves, parseReplayTarget, REPLAY_TARGET_FORMS, replayGroup } from "../pipelines/runtime/replay.ts";
import { parseCommandArgs } from "./commands.ts";
import { untilSignal } from "./signals.ts";

const USAGE = `Usage: fleetsync history [run] [--config FILE]
       fleetsync history query --truck TRUCK --from WHEN --to WHEN [--events] [--format jsonl|csv] [--config FILE]
       fleetsync history replay --to WHEN [--config FILE]
  run:    write every telemetry record and event from Kafka into PostgreSQL, exactly once (group fleetsync-history).
  query:  print one truck's telemetry (or --events) from WHEN (inclusive) to WHEN (exclusive), ISO 8601 times,
          as JSON Lines (default) or CSV with a header line.
  replay: rewind the stopped pipeline; WHEN is ${REPLAY_TARGET_FORMS}. Rows already stored are not written twice.
  Defaults: Kafka from KAFKA_BROKERS (127.0.0.1:39092), the database from DATABASE_URL. See docs/history.md.
`;

async function configFrom(file: string | undefined): Promise<HistoryConfig> {
  if (file) return loadHistoryConfig(file);
  const url = process.env.DATABASE_URL;
  if (!url) throw new FleetError("FLEET_USAGE", "set DATABASE_URL (or give --config FILE with database.url)");
  return parseHistoryConfig(
    {
      kafka: { brokers: (process.env.KAFKA_BROKERS ?? "127.0.0.1:39092").split(",").map((b) => b.trim()) },
      database: { url },
    },
    "environment (KAFKA_BROKERS, DATABASE_URL)",
  );
}

function parseTime(flag: string, text: string | undefined): Date {
  const date = text === undefined ? undefined : new Date(text);
  if (!date || Number.isNaN(date.getTime())) {
    throw new FleetError("FLEET_USAGE", `--${flag} needs an ISO 8601 time such as 2026-11-01T00:00:00Z`);
  }
  return date;
}

export async function run(argv: string[]): Promise<number> {
  const verb = argv[0] === "query" || argv[0] === "replay" || argv[0] === "run" ? argv[0] : undefined;
  const { values } = parseCommandArgs(verb ? argv.slice(1) : argv, {
    options: {
      config: { type: "string" },
      truck: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      events: { type: "boolean", default: false },
      format: { type: "string", default: "jsonl" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const config = await configFrom(values.config);
  if (verb === "query") return query(config, values);
  if (verb === "replay") return replay(config, values.to);

  const logger = createLogger("history");
  warnTopicsLeftAtDefault(logger, config.topics, HistoryConfigSchema.shape.topics.parse(undefined));
  const service = createHistoryService(config, { logger });
  await service.start();
  process.stdout.write(`${JSON.stringify({ ready: true, http: service.address()?.port })}\n`);
  await untilSignal(logger, () => service.stop());
  process.stdout.write(`${JSON.stringify({ stopped: true })}\n`);
  return 0;
}

async function query(
  config: HistoryConfig,
  values: { truck?: string; from?: string; to?: string; events: boolean; format: string },
): Promise<number> {
  if (!values.truck) throw new FleetError("FLEET_USAGE", "history query needs --truck");
  if (values.format !== "jsonl" && values.format !== "csv") {
    throw new FleetError("FLEET_USAGE", `--format must be jsonl or csv, not ${values.format}`);
  }
  const rows = queryHistory(config.database.url, {
    truckId: values.truck,
    table: values.events ? "events" : "telemetry",
    from: parseTime("from", values.from),
    to: parseTime("to", values.to),
  });
  let header: string[] | undefined;
  for await (const row of rows) {
    const json = rowToJson(row);
    let line: string;
    if (values.format === "jsonl") line = JSON.stringify(json);
    else {
      const first = header === undefined;
      header ??= Object.keys(json);
      line = header.map((k) => csvField(json[k])).join(",");
      if (first) line = `${header.join(",")}\n${line}`;
    }
    // Backpressure: a consumer reading slowly (a pipe into less) is waited for, not buffered.
    if (!process.stdout.write(`${line}\n`)) await new Promise((resolve) => process.stdout.once("drain", resolve));
  }
  return 0;
}

async function replay(config: HistoryConfig, to: string | undefined): Promise<number> {
  if (!to) throw new FleetError("FLEET_USAGE", "history replay needs --to");
  const moves = await replayGroup({
    brokers: config.kafka.brokers,
    security: config.kafka,
    groupId: config.groupId,
    target: parseReplayTarget(to),
    topics: [config.topics.telemetry, config.topics.events],
    dryRun: false,
  });
  // The stored positions win over Kafka's offsets on assignment: forget them, so the rewound offsets count.
  const store = createHistoryStore(config.database, config.groupId, createLogger("history"));
  try {
    await store.migrate();
    await store.forgetPositions();
  } finally {
    await store.close();
  }
  process.stdout.write(`group ${config.groupId} moved:\n${describeMoves(moves)}\n`);
  return 0;
}
