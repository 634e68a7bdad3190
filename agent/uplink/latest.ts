/**
 * The latest lane (issue 20): the truck's current state on its own topic, `fleetsync/v1/{truckId}/latest`, which the
 * bridge writes to the compacted fleet.latest. A truck back from two hours in a tunnel has two hours of backlog in
 * its outbox; drained strictly in order (as it must be, on telemetry), its current position would reach the cloud
 * only at the end. So the newest committed telemetry record also goes on this lane:
 * - at once on every new session, before the drain starts (the bridge handles one client's publishes in order, so
 *   this one reaches Kafka before the first backlog batch);
 * - again while the backlog drains, whenever a newer record is stuck behind it, at most once per latestIntervalMs;
 * - with no backlog, at most once per latestRefreshMs, so fleet.latest stays current for consumers that read only it.
 * It is not part of the ordered stream: nothing is stored for it and nothing acknowledged to the outbox (the same
 * record also comes, in order, on telemetry). A failed publish is logged and counted; the next one replaces it.
 */
import type { Logger } from "../../common/log.ts";
import { encodeTelemetry, type TelemetryRecord, topicFor } from "../../protocol/index.ts";
import type { Outbox } from "../outbox/index.ts";
import type { UplinkConfig } from "./config.ts";
import type { Session } from "./connection.ts";
import type { UplinkStats } from "./types.ts";

export interface LatestLaneDeps {
  truckId: string;
  outbox: Outbox;
  log: Logger;
  stats: UplinkStats;
  session(): Session | undefined;
  /** Committed telemetry records the drain has not published yet on this session. */
  behind(): number;
}

export interface LatestLane {
  /** A new session: sends the newest record at once. Resolves once the publish was handed to the client. */
  up(): Promise<void>;
  /** New records were committed: sends the newest when it is stuck behind a backlog (rate-bounded). */
  committed(): void;
  /** The drain published telemetry: the newest of it, for the refresh when there is no backlog. */
  published(record: TelemetryRecord): void;
  /** Clears the timers. */
  stop(): void;
}

export function createLatestLane(config: UplinkConfig, deps: LatestLaneDeps): LatestLane {
  const { outbox, log, stats, truckId } = deps;
  const enabled = config.latestIntervalMs > 0;
  const topic = topicFor(truckId, "latest");
  /** The newest record known to the lane (read from the outbox or seen going out on telemetry). */
  let newest: TelemetryRecord | undefined;
  let sentSeq = -1;
  let sentAt = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | undefined;
  let refresh: NodeJS.Timeout | undefined;
  let stopped = false;

  /** The newest committed telemetry record still in the outbox (it may already have left: then the cached one). */
  async function readNewest(): Promise<TelemetryRecord | undefined> {
    const next = outbox.committedNext("telemetry");
    if (next > 0 && (newest === undefined || newest.seq < next - 1)) {
      // A peek: the lane's copy is not sequenced, so the record stays free to be thinned.
      const [record] = await outbox.read("telemetry", next - 1, 1, { peek: true });
      if (record && (newest === undefined || record.seq > newest.seq)) newest = record;
    }
    return newest;
  }

  async function send(force: boolean): Promise<void> {
    const s = deps.session();
    if (!s || stopped) return;
    let record: TelemetryRecord | undefined;
    try {
      record = await readNewest();
    } catch (error) {
      log.warn({ err: error }, "uplink: latest lane could not read the outbox");
      return;
    }
    if (!record || (!force && record.seq <= sentSeq) || s.generation !== deps.session()?.generation) return;
    let payload: Buffer;
    try {
      payload = encodeTelemetry([record], { format: config.format });
    } catch (error) {
      log.error({ err: error, seq: record.seq }, "uplink: latest lane: codec refused the record");
      return;
    }
    sentSeq = record.seq;
    sentAt = performance.now();
    stats.latestPublished++;
    s.client.publish(topic, payload, { qos: 1 }, (err) => {
      if (err) {
        log.warn({ err: { message: err.message }, seq: record.seq }, "uplink: latest not acknowledged");
        return;
      }
      stats.latestAcked++;
      stats.latestAckedAt = Date.now();
    });
  }

  /** Sends once the interval since the last send has passed (one timer at most). */
  function later(intervalMs: number): void {
    if (timer || stopped) return;
    const wait = Math.max(0, sentAt + intervalMs - performance.now());
    timer = setTimeout(() => {
      timer = undefined;
      void send(false);
    }, wait);
    timer.unref();
  }

  if (enabled && config.latestRefreshMs > 0) {
    refresh = setInterval(() => {
      if (deps.behind() === 0 && newest && newest.seq > sentSeq) void send(false);
    }, config.latestRefreshMs);
    refresh.unref();
  }

  return {
    up() {
      if (!enabled) return Promise.resolve();
      return send(true);
    },
    committed() {
      if (enabled && deps.session() && deps.behind() > 0) later(config.latestIntervalMs);
    },
    published(record) {
      if (newest === undefined || record.seq > newest.seq) newest = record;
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (refresh) clearInterval(refresh);
      timer = refresh = undefined;
    },
  };
}
