/**
 * `fleetsync replay --group G --to WHEN [--topic T]... [--dry-run] [--json]`: moves a stopped consumer group's
 * offsets, so the pipeline reads again from there when it starts. Prints what it moved per partition.
 */
import { FleetError } from "../common/errors.ts";
import { cliKafkaConnection } from "../common/kafka/connection.ts";
import { describeMoves, parseReplayTarget, REPLAY_TARGET_FORMS, replayGroup } from "../pipelines/runtime/replay.ts";
import { parseCommandArgs } from "./commands.ts";

const USAGE = `Usage: fleetsync replay --group GROUP --to WHEN [--topic TOPIC]... [--dry-run] [--json]
  Rewind (or forward) a stopped pipeline's consumer group. WHEN is ${REPLAY_TARGET_FORMS}.
  Without --topic: every topic the group has committed offsets for. Refused while the group has live members.
  Kafka from --kafka-config FILE or $FLEETSYNC_KAFKA_CONFIG (the connection fields of docs/bridge-config.md's
  kafka section: brokers, tls, sasl; secrets from files or environment variables), --brokers or KAFKA_BROKERS
  (default 127.0.0.1:39092).
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    options: {
      group: { type: "string" },
      to: { type: "string" },
      topic: { type: "string", multiple: true },
      brokers: { type: "string" },
      "kafka-config": { type: "string" },
      "dry-run": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.group || !values.to) throw new FleetError("FLEET_USAGE", "replay needs --group and --to");
  const target = parseReplayTarget(values.to);
  const { brokers, ...security } = await cliKafkaConnection({
    brokers: values.brokers,
    kafkaConfig: values["kafka-config"],
  });
  const moves = await replayGroup({
    brokers,
    security,
    groupId: values.group,
    target,
    ...(values.topic ? { topics: values.topic } : {}),
    dryRun: values["dry-run"],
  });
  if (values.json)
    process.stdout.write(`${JSON.stringify({ group: values.group, dryRun: values["dry-run"], moves })}\n`);
  else {
    const what = values["dry-run"] ? "would move" : "moved";
    process.stdout.write(`group ${values.group} ${what}:\n${describeMoves(moves)}\n`);
  }
  return 0;
}
