/**
 * `fleetsync verify`: reads a Kafka topic, applies protocol/'s in-order filter, and checks every truck for
 * completeness, order, duplicates and gaps. Prints one JSON summary on stdout; exit code 0 only with zero
 * unexplained loss and zero reordering (duplicates are reported, not failed; announced overflow gaps from
 * --events-topic are reported as lostAnnounced, thinned ranges as thinned). On stderr, one accounting line:
 * kept + thinned + dropped (+ unexplained) = produced.
 */
import { readFile } from "node:fs/promises";
import { FleetError } from "../common/errors.ts";
import { cliKafkaConnection } from "../common/kafka/connection.ts";
import { DEFAULT_KAFKA_TOPICS } from "../protocol/kafka.ts";
import type { TruckReport } from "../sim/verify/checker.ts";
import { runVerify } from "../sim/verify/verify.ts";
import { parseCommandArgs } from "./commands.ts";

const USAGE = `Usage: fleetsync verify [options]
  --brokers LIST       host:port,... (default $KAFKA_BROKERS or 127.0.0.1:39092)
  --kafka-config FILE  Kafka connection file (brokers, tls, sasl; default $FLEETSYNC_KAFKA_CONFIG); secrets in it
                       are files or environment variables, never flags
  --topic T            topic to check (default ${DEFAULT_KAFKA_TOPICS.telemetry})
  --expect E           records per truck: a number, a JSON map {"truckId": n}, or @file.json with that map
  --events-topic T     topic with gap and thinned events (e.g. ${DEFAULT_KAFKA_TOPICS.events}): announced losses
                       and thinned ranges, reported apart from unexplained loss
  --channel C          telemetry | events (default: from the records)
  --timeout S          give up after S seconds (default 60)
  --only-problems      list only trucks with loss, reordering, duplicates or extra records
`;

async function parseExpect(text: string | undefined): Promise<number | Record<string, number> | undefined> {
  if (text === undefined) return undefined;
  const source = text.startsWith("@") ? await readFile(text.slice(1), "utf8") : text;
  const value: unknown = (() => {
    try {
      return JSON.parse(source);
    } catch {
      return undefined;
    }
  })();
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return value;
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.every(([, n]) => typeof n === "number" && Number.isInteger(n) && n >= 0)) {
      return Object.fromEntries(entries) as Record<string, number>;
    }
  }
  throw new FleetError("FLEET_USAGE", "--expect must be a whole number or a JSON map of truck id to whole number");
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    options: {
      brokers: { type: "string" },
      "kafka-config": { type: "string" },
      topic: { type: "string" },
      expect: { type: "string" },
      "events-topic": { type: "string" },
      channel: { type: "string" },
      timeout: { type: "string" },
      "only-problems": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const channel = values.channel;
  if (channel !== undefined && channel !== "telemetry" && channel !== "events") {
    throw new FleetError("FLEET_USAGE", "--channel must be telemetry or events");
  }
  const timeoutS = values.timeout === undefined ? 60 : Number(values.timeout);
  if (!(timeoutS > 0)) throw new FleetError("FLEET_USAGE", "--timeout must be a positive number of seconds");
  const { brokers, ...security } = await cliKafkaConnection({
    brokers: values.brokers,
    kafkaConfig: values["kafka-config"],
  });
  const expect = await parseExpect(values.expect);
  const summary = await runVerify({
    brokers,
    security,
    topic: values.topic ?? DEFAULT_KAFKA_TOPICS.telemetry,
    ...(expect === undefined ? {} : { expect }),
    ...(values["events-topic"] === undefined ? {} : { eventsTopic: values["events-topic"] }),
    ...(channel === undefined ? {} : { channel }),
    timeoutMs: timeoutS * 1000,
  });
  const accounting = accountingLine(summary);
  if (values["only-problems"]) {
    summary.trucks = Object.fromEntries(
      Object.entries(summary.trucks).filter(
        ([, r]) => r.lostUnexplained + r.lostAnnounced + r.thinned + r.reordered + r.duplicates + r.extra > 0,
      ),
    );
  }
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  process.stderr.write(`${accounting}\n`);
  return summary.ok ? 0 : 1;
}

/** kept + thinned + dropped (+ unexplained) = produced, over every truck: the line a person reads first. */
export function accountingLine(summary: { trucks: Record<string, TruckReport> }): string {
  const t = { produced: 0, kept: 0, thinned: 0, dropped: 0, unexplained: 0 };
  for (const r of Object.values(summary.trucks)) {
    for (const k of Object.keys(t) as Array<keyof typeof t>) t[k] += r.accounting[k];
  }
  const sum = t.kept + t.thinned + t.dropped + t.unexplained;
  return (
    `accounting: kept ${t.kept} + thinned ${t.thinned} + dropped ${t.dropped} + unexplained ${t.unexplained} = ` +
    `${sum}, ${sum === t.produced ? "" : "but "}produced ${t.produced}`
  );
}
