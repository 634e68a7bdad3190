/**
 * Forwarding with the acknowledgement after Kafka (design, promise 1).
 *
 * Aedes 1.x handles an incoming PUBLISH as authorizePublish -> (QoS 1) write PUBACK -> broker.publish ->
 * `published` (node_modules/aedes/lib/handlers/publish.js, enqueuePublish). The PUBACK goes out before
 * `published` runs, so forwarding there would acknowledge records Kafka never got. authorizePublish is the only
 * hook before the acknowledgement, so the forwarder works there: it decodes the payload, submits the records to
 * the batcher and calls Aedes' callback only after Kafka acknowledged them (acks=all). Until then Aedes neither
 * acknowledges nor reads further from that truck's socket.
 *
 * After the callback Aedes still routes the packet. No truck may subscribe to telemetry, events or status, so
 * routing reaches nobody; the forwarder empties the payload and clears `retain` first, so the broker neither keeps
 * a copy in memory nor stores a retained message: Kafka is the one place the record lives.
 *
 * Logins before backlogs: the work of a publish (decode, validation, the Kafka messages, the batcher) does not run
 * where Aedes hands the publish over, inside the event loop's I/O phase, but in slices of at most SLICE_MS, one per
 * loop turn (setImmediate), in arrival order. In a reconnect storm thousands of connected trucks each send a
 * 100-record backlog publish; decoded where they arrived they held the loop for seconds at a time, and the logins
 * of the trucks still reconnecting (accept, CONNECT, authenticate, CONNACK, each its own step on the loop) waited
 * behind them past the trucks' 30 s connect timeout, so a 10,000-truck storm was paced by logins (issue 21). Now
 * each loop turn serves every pending login step and then drains for at most SLICE_MS. Order is unchanged: one
 * FIFO for every publish, and a truck's socket is still not read until its publishes were acknowledged. The FIFO
 * holds publishes Aedes already read, at most one socket read per connection (the bound the batcher's `waiting`
 * FIFO has too).
 *
 * Refusals: an ACL violation is answered with an error, which makes Aedes close the connection without a PUBACK
 * (MQTT-3.3.5-2 allows either; closing tells a misconfigured truck loudly). An invalid payload is NOT an error:
 * it goes to the dead-letter topic and is acknowledged like any record, so the truck never retries poison forever
 * and stays connected (design, promise 6).
 */
import type { AedesPublishPacket, Client, PublishPacket } from "aedes";
import { FleetError, isFleetError } from "../../common/errors.ts";
import { type Lifecycle, LifecycleGuard } from "../../common/lifecycle.ts";
import type { Logger } from "../../common/log.ts";
import { type ConfirmReply, encodeConfirmReply } from "../../protocol/confirm.ts";
import { toStatusMessage } from "../../protocol/kafka.ts";
import { confirmTopic } from "../../protocol/topics.ts";
import { checkPublish, type PublishKind } from "../auth/acl.ts";
import { deliveredEach } from "../../common/kafka/offsets.ts";
import type { Delivery, KafkaSink, KafkaTopics, OutMessage } from "../kafka-sink/index.ts";
import { Batcher, type BatcherHooks } from "./batcher.ts";
import type { ForwarderConfig } from "./config.ts";
import { decodePublish } from "./decode.ts";
import { Fifo } from "./fifo.ts";

export interface ForwarderHooks extends BatcherHooks {
  onPublish?(kind: PublishKind, records: number): void;
  onDeadLetter?(code: string): void;
  onRefused?(reason: "acl" | "stopping"): void;
  /** A publish was acknowledged, `seconds` after it reached authorizePublish (the bridge's share of its latency). */
  onAcknowledged?(seconds: number): void;
  /** A truck's pending status record was forgotten because maxPendingStatuses trucks had one waiting. */
  onStatusDropped?(): void;
}

export interface ForwarderDeps {
  sink: Pick<KafkaSink, "send">;
  topics: KafkaTopics;
  logger: Logger;
  /** Publishes a packet to MQTT subscribers (the confirmation reply). */
  publish(packet: Pick<PublishPacket, "topic" | "payload" | "qos" | "retain" | "properties">): void;
  hooks?: ForwarderHooks;
}

/**
 * The forwarder opens nothing: start() only marks it running, so that a second start, or one after stop, fails with
 * FLEET_CLOSED like every component's (common/lifecycle.ts). After stop every publish is refused with FLEET_CLOSED.
 */
export interface Forwarder extends Lifecycle {
  readonly pendingRecords: number;
  readonly waitingPublishes: number;
  /** Status records not written yet: the latest per truck, plus one submission on its way to Kafka. */
  readonly pendingStatuses: number;
  authorizePublish(client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void): void;
  /** Status records on connect and disconnect (broker clock), keyed by truck id on the compacted status topic. */
  clientConnected(client: Client): void;
  clientDisconnected(client: Client, reason: string): void;
  /** Refuses new publishes, then waits until Kafka took everything already received, or until `deadline` (epoch ms). */
  drain(deadline: number): Promise<void>;
  /**
   * Writes what is still queued (status records of the last disconnects) until `deadline` (epoch ms; default
   * drainTimeoutMs from now), then fails whatever is left: those publishes stay unacknowledged and their trucks send
   * them again. Idempotent: later calls get the first one's promise (and its deadline).
   */
  stop(deadline?: number): Promise<void>;
}

const EMPTY = Buffer.alloc(0);
/** Event-loop time given to forwarding publishes per loop turn before other work (logins) runs: see above. */
const SLICE_MS = 10;

export function createForwarder(config: ForwarderConfig, deps: ForwarderDeps): Forwarder {
  const hooks = deps.hooks ?? {};
  const batcher = new Batcher(deps.sink, config, hooks);
  const logger = deps.logger;
  let stopping = false;
  const life = new LifecycleGuard("the forwarder");

  /**
   * Status records (issue 13.5). fleet.status is compacted: only each truck's latest state matters. So they do not
   * queue one per event: the latest per truck waits in `statuses` (a newer one replaces it), and one submission at
   * a time takes what is there to the batcher, where it counts against maxPendingRecords like any publish. Bound:
   * one record per truck, at most maxPendingStatuses trucks; when full the oldest truck's pending record is
   * forgotten (counted and logged: that truck's state in fleet.status is then stale until its next change).
   */
  const statuses = new Map<string, OutMessage>();
  let statusSubmission: Promise<void> | undefined;
  let statusesDropped = 0;

  function status(truckId: string, state: "online" | "offline", reason?: string): void {
    const receivedAt = new Date();
    const record = { truckId, state, ts: receivedAt.toISOString(), ...(reason ? { reason } : {}) };
    statuses.delete(truckId);
    statuses.set(truckId, { topic: deps.topics.status, ...toStatusMessage(record, { mqttTopic: "", receivedAt }) });
    if (statuses.size > config.maxPendingStatuses) {
      const oldest = statuses.keys().next().value!;
      statuses.delete(oldest);
      hooks.onStatusDropped?.();
      statusesDropped += 1;
      // One line per power of two: a flood does not flood the log.
      if ((statusesDropped & (statusesDropped - 1)) === 0) {
        logger.warn(
          { truckId: oldest, dropped: statusesDropped },
          "pending status records at their bound; oldest forgotten",
        );
      }
    }
    submitStatuses();
  }

  function submitStatuses(): void {
    if (statusSubmission || statuses.size === 0) return;
    const taken: OutMessage[] = [];
    for (const [truckId, message] of statuses) {
      if (taken.length >= config.maxBatchRecords) break;
      taken.push(message);
      statuses.delete(truckId);
    }
    statusSubmission = batcher.submit(taken).then(
      () => undefined,
      (error: unknown) => logger.warn({ records: taken.length, err: error }, "status records not written"),
    );
    void statusSubmission.then(() => {
      statusSubmission = undefined;
      submitStatuses();
    });
  }

  /** Publishes handed over by Aedes and not forwarded yet, in arrival order (see "Logins before backlogs"). */
  const arrived = new Fifo<() => void>();
  let sliceScheduled = false;

  function whenTurn(forward: () => void): void {
    arrived.push(forward);
    if (!sliceScheduled) {
      sliceScheduled = true;
      setImmediate(slice);
    }
  }

  function slice(): void {
    sliceScheduled = false;
    const until = performance.now() + SLICE_MS;
    do arrived.shift()?.();
    while (arrived.length > 0 && performance.now() < until);
    if (arrived.length > 0 && !sliceScheduled) {
      sliceScheduled = true;
      setImmediate(slice);
    }
  }

  /** Forwards everything that arrived, now: a drain or a stop must see every publish in the batcher. */
  function forwardArrived(): void {
    while (arrived.length > 0) arrived.shift()!();
  }

  function reply(truckId: string, packet: PublishPacket, answer: ConfirmReply): void {
    const properties = packet.properties;
    // Answer only on the truck's own confirmation topic: a truck must not make the bridge publish elsewhere.
    if (!properties?.responseTopic || properties.responseTopic !== confirmTopic(truckId)) return;
    deps.publish({
      topic: properties.responseTopic,
      payload: encodeConfirmReply(answer),
      qos: 1,
      retain: false,
      properties: properties.correlationData ? { correlationData: properties.correlationData } : {},
    });
  }

  function answerFor(deliveries: Delivery[], records: number): ConfirmReply {
    const first = deliveries[0];
    if (!first || first.offset === "-1") {
      return { ok: false, code: "FLEET_KAFKA", reason: "Kafka did not report where the record landed" };
    }
    return { ok: true, topic: first.topic, partition: first.partition, offset: first.offset, records };
  }

  /** Decodes one publish, hands its records to the batcher, and acknowledges it once Kafka has them all. */
  function forward(
    truckId: string,
    kind: PublishKind,
    packet: PublishPacket,
    callback: (error?: Error | null) => void,
    receivedAt: Date,
    began: number,
  ): void {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const meta = { mqttTopic: packet.topic, receivedAt };
    const decoded = decodePublish(truckId, kind, payload, meta, deps.topics, config.maxPayloadBytes);
    if (decoded.ok) hooks.onPublish?.(decoded.kind, decoded.messages.length);
    else {
      hooks.onDeadLetter?.(decoded.error.code);
      logger.info(
        { truckId, topic: packet.topic, code: decoded.error.code, reason: decoded.error.message },
        "dead letter",
      );
    }
    batcher.submit(decoded.messages).then(
      (deliveries) => {
        // The one place a PUBACK is released: only with Kafka's (partition, offset) for every record in it
        // (design, "The bridge"). The batcher already retries a batch without them; this is the last guard.
        if (!deliveredEach(deliveries, decoded.messages.length)) {
          logger.error({ truckId, topic: packet.topic }, "no offset from Kafka for every record: not acknowledged");
          return callback(new FleetError("FLEET_KAFKA", "Kafka did not name a partition and offset for every record"));
        }
        const delivered = packet as AedesPublishPacket;
        delivered.payload = EMPTY;
        delivered.retain = false;
        if (decoded.ok) reply(truckId, packet, answerFor(deliveries, decoded.messages.length));
        else
          reply(truckId, packet, {
            ok: false,
            code: decoded.error.code,
            reason: decoded.error.message.slice(0, 500),
          });
        callback(null);
        hooks.onAcknowledged?.((performance.now() - began) / 1000);
      },
      (error: unknown) => {
        // Only when stopping: the publish stays unacknowledged and the truck sends it again.
        callback(isFleetError(error) ? error : new FleetError("FLEET_KAFKA", String(error), { cause: error }));
      },
    );
  }

  return {
    get pendingRecords() {
      return batcher.pendingRecords;
    },
    get waitingPublishes() {
      return batcher.waitingPublishes;
    },
    get pendingStatuses() {
      return statuses.size + (statusSubmission ? 1 : 0);
    },

    authorizePublish(client, packet, callback) {
      // client === null: a will left by a broker that is gone (memory persistence has none). client.closed: this
      // client's own will. The bridge writes its own offline status on disconnect, so wills are not forwarded.
      if (!client || client.closed) return callback(new FleetError("FLEET_AUTH", "wills are not forwarded"));
      const truckId = client.id;
      const decision = checkPublish(truckId, packet.topic);
      if (!decision.ok) {
        hooks.onRefused?.("acl");
        logger.warn({ truckId, topic: packet.topic, reason: decision.reason }, "publish refused");
        return callback(new FleetError("FLEET_AUTH", decision.reason));
      }
      if (stopping) {
        hooks.onRefused?.("stopping");
        return callback(new FleetError("FLEET_CLOSED", "the bridge is stopping"));
      }
      // The broker's receive time and the start of the bridge's share of the latency: now, not when forwarded.
      const receivedAt = new Date();
      const began = performance.now();
      whenTurn(() => forward(truckId, decision.kind, packet, callback, receivedAt, began));
    },

    clientConnected(client) {
      status(client.id, "online");
    },

    clientDisconnected(client, reason) {
      status(client.id, "offline", reason);
    },

    async drain(deadline) {
      stopping = true;
      forwardArrived();
      await batcher.drain(Math.max(0, deadline - Date.now()));
    },

    start: () => life.start(async () => {}),

    stop(deadline = Date.now() + config.drainTimeoutMs) {
      stopping = true;
      forwardArrived();
      return life.stop(async () => {
        // The status records of the trucks just disconnected come in submissions one after another: wait for
        // each (the batcher is idle between two of them for a moment), until none is left or the deadline passed.
        do {
          await batcher.drain(Math.max(0, deadline - Date.now()));
          // Lets a completed submission's callbacks hand over the next one.
          await new Promise((resolve) => setImmediate(resolve));
        } while ((statuses.size > 0 || statusSubmission) && Date.now() < deadline);
        await batcher.stop(0);
      });
    },
  };
}
