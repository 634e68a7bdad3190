/**
 * Rewinding (or forwarding) a stopped consumer group: "fix the pipeline and replay from 2 hours ago". Offsets by
 * time come from Kafka's ListOffsets by timestamp (the first record at or after the time, per partition; the end
 * when there is none). A group with live members is refused before anything changes: its members would overwrite
 * the new offsets with their next commit.
 */
import type { Kafka } from "kafkajs";
import { FleetError } from "../../common/errors.ts";
import { createKafkaClient } from "../../common/kafka/connection.ts";
import { type KafkaSecurity, kafkaFailure } from "../../common/kafka/security.ts";

export type ReplayTarget =
  { kind: "time"; at: Date } | { kind: "earliest" } | { kind: "latest" } | { kind: "offset"; offset: bigint };

const UNITS_MS: Record<string, number> = { second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000 };
const UNIT_ALIASES: Record<string, string> = { s: "second", sec: "second", m: "minute", min: "minute", h: "hour" };

export const REPLAY_TARGET_FORMS =
  'an ISO time (2026-11-30T06:00:00Z), "N seconds|minutes|hours|days ago", earliest, latest or "offset N"';

/** Parses the `--to` of `fleetsync replay`; `now` is passed in so "2 hours ago" is testable. */
export function parseReplayTarget(text: string, now: Date = new Date()): ReplayTarget {
  const t = text.trim().toLowerCase();
  if (t === "earliest" || t === "latest") return { kind: t };
  const offset = /^offset\s+(\d+)$/.exec(t);
  if (offset) return { kind: "offset", offset: BigInt(offset[1]!) };
  const ago = /^(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s+ago$/.exec(t);
  if (ago) {
    const unit = UNIT_ALIASES[ago[2]!] ?? ago[2]!;
    const ms = UNITS_MS[unit];
    if (ms !== undefined) return { kind: "time", at: new Date(now.getTime() - Number(ago[1]) * ms) };
  }
  // An ISO 8601 date-time with a zone, so the moment is unambiguous whatever the machine's time zone.
  if (/^\d{4}-\d{2}-\d{2}t\d{2}:\d{2}(:\d{2}(\.\d+)?)?(z|[+-]\d{2}:\d{2})$/.test(t)) {
    const at = new Date(text.trim());
    if (!Number.isNaN(at.getTime())) return { kind: "time", at };
  }
  throw new FleetError("FLEET_USAGE", `--to ${JSON.stringify(text)} is not ${REPLAY_TARGET_FORMS}`);
}

export interface PartitionMove {
  topic: string;
  partition: number;
  /** The committed offset before ("-1": none). */
  from: string;
  to: string;
}

export interface ReplayOptions {
  brokers: string[];
  groupId: string;
  target: ReplayTarget;
  /** Topics to move; default: every topic the group has committed offsets for. */
  topics?: string[];
  /** Compute and return the moves without changing anything. */
  dryRun?: boolean;
  ssl?: boolean;
  /** TLS and SASL settings of the connection (common/kafka). */
  security?: KafkaSecurity;
}

export async function replayGroup(options: ReplayOptions): Promise<PartitionMove[]> {
  const kafka = createKafkaClient({
    ssl: options.ssl ?? false,
    ...options.security,
    clientId: "fleetsync-replay",
    brokers: options.brokers,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (error) {
    throw kafkaFailure(`cannot reach Kafka at ${options.brokers.join(",")}`, error, options.security ?? {}, {
      firstContact: true,
    });
  }
  try {
    const { groups } = await admin.describeGroups([options.groupId]);
    const members = groups[0]?.members ?? [];
    if (members.length > 0) {
      const who = members.map((m) => `${m.clientId}@${m.clientHost}`).join(", ");
      throw new FleetError(
        "FLEET_GROUP_ACTIVE",
        `group ${options.groupId} has ${members.length} live member(s) (${who}); stop the pipeline, then replay`,
        { details: { groupId: options.groupId, members: members.length } },
      );
    }
    const topics = options.topics ?? (await admin.fetchOffsets({ groupId: options.groupId })).map((t) => t.topic);
    if (topics.length === 0) {
      throw new FleetError(
        "FLEET_USAGE",
        `group ${options.groupId} has no committed offsets; name the topics (--topic)`,
      );
    }
    const moves: PartitionMove[] = [];
    for (const topic of topics) {
      const [committed] = await admin.fetchOffsets({ groupId: options.groupId, topics: [topic] });
      const fromOf = new Map((committed?.partitions ?? []).map((p) => [p.partition, p.offset]));
      const targets = await targetOffsets(admin, topic, options.target);
      for (const { partition, offset } of targets) {
        moves.push({ topic, partition, from: fromOf.get(partition) ?? "-1", to: offset });
      }
      if (options.dryRun) continue;
      await admin.setOffsets({ groupId: options.groupId, topic, partitions: targets });
    }
    return moves;
  } finally {
    await admin.disconnect();
  }
}

async function targetOffsets(
  admin: ReturnType<Kafka["admin"]>,
  topic: string,
  target: ReplayTarget,
): Promise<{ partition: number; offset: string }[]> {
  if (target.kind === "time") return admin.fetchTopicOffsetsByTimestamp(topic, target.at.getTime());
  const ends = await admin.fetchTopicOffsets(topic);
  return ends.map(({ partition, low, high }) => {
    if (target.kind === "earliest") return { partition, offset: low };
    if (target.kind === "latest") return { partition, offset: high };
    // One offset for every partition, kept inside what the partition holds.
    const clamped = target.offset < BigInt(low) ? low : target.offset > BigInt(high) ? high : target.offset;
    return { partition, offset: clamped.toString() };
  });
}

/** One line per partition, for people: `fleet.telemetry/3  1200 -> 950  (-250)`. */
export function describeMoves(moves: PartitionMove[]): string {
  const width = Math.max(0, ...moves.map((m) => `${m.topic}/${m.partition}`.length));
  return moves
    .map((m) => {
      const delta = m.from === "-1" ? "(no commit before)" : `(${signed(BigInt(m.to) - BigInt(m.from))})`;
      return `${`${m.topic}/${m.partition}`.padEnd(width)}  ${m.from} -> ${m.to}  ${delta}`;
    })
    .join("\n");
}

const signed = (n: bigint) => (n > 0n ? `+${n}` : `${n}`);
