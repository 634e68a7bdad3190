/**
 * The bridge's limits against misbehaving or hostile clients, end to end: a real bridge against the run's real
 * Kafka, real MQTT clients over TCP from distinct loopback source addresses (127.0.0.x, so each test has a source
 * of its own for the per-source limits).
 *
 * - maximum packet size: a larger PUBLISH closes the connection and nothing of it reaches Kafka, whether it arrives
 *   in one socket read or many; other trucks keep working and the bridge stays up.
 * - connection rate per source: beyond the token bucket's burst, connections are closed before MQTT starts
 *   (counted as refused, reason "rate"); the source recovers as tokens refill; other sources are unaffected.
 * - auth failures (issue 13.10): counted per (source, claimed truck id). After maxAuthFailuresPerTruck wrong
 *   passwords for one truck from one source, that truck is refused from that source for blockMs (even with the
 *   correct password) with a CONNACK the client can log; other trucks behind the same address (a carrier's NAT)
 *   still log in, and so does the guessed truck from elsewhere. A source that fails for many truck ids reaches
 *   the much higher maxAuthFailuresPerSource and is refused as a whole. Blocks end by themselves.
 */
import { connect as netConnect } from "node:net";
import type { IClientOptions, MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bridge } from "../../../bridge/bridge.ts";
import { parseBridgeConfig } from "../../../bridge/config.ts";
import { encodeTelemetry } from "../../../protocol/codec.ts";
import { topicFor } from "../../../protocol/topics.ts";
import { deleteTopics, kafkaBrokers, readUntil, testKafka } from "../../support/kafka.ts";
import { waitFor } from "../../support/wait.ts";
import {
  attemptConnect,
  byKey,
  closeAll,
  counterValue,
  PASSWORD,
  startBridge,
  type TestTopics,
  telemetry,
  testTopics,
  type Workspace,
  workspace,
} from "./harness.ts";

const MAX_PACKET_BYTES = 4096;
const CONNECTIONS_PER_SECOND = 2; // burst = 5x = 10
const BURST = CONNECTIONS_PER_SECOND * 5;
const MAX_AUTH_FAILURES = 3;
const MAX_SOURCE_FAILURES = 8;
const BLOCK_MS = 2_000;
const RATE_TRUCKS = Array.from({ length: BURST + 5 }, (_, i) => `T-rate-${i}`);
const TRUCKS = ["T-big", "T-normal", "T-guess", "T-neighbour", "T-other", ...RATE_TRUCKS];

/** One MQTT 5 connection attempt as `truckId` (its password unless overridden), from `localAddress`. */
function attempt(port: number, localAddress: string, truckId: string, options: IClientOptions = {}) {
  const tcp = () => netConnect({ host: "127.0.0.1", port, localAddress });
  return attemptConnect(tcp, { clientId: truckId, username: truckId, password: PASSWORD, ...options });
}

async function connected(port: number, localAddress: string, truckId: string, options: IClientOptions = {}) {
  const result = await attempt(port, localAddress, truckId, options);
  if (!result.ok) throw new Error(`${truckId} from ${localAddress} was refused: ${result.error}`);
  return result.client;
}

describe("bridge limits: packet size, connection rate, auth failures (real Kafka, MQTT over TCP)", () => {
  const kafka = testKafka("bridge-security-test");
  let space: Workspace;
  let topics: TestTopics;
  let bridge: Bridge;
  let port: number;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    space = await workspace(TRUCKS);
    topics = testTopics("sec");
    const config = parseBridgeConfig({
      listener: { tcp: { host: "127.0.0.1", port: 0 }, maxPacketBytes: MAX_PACKET_BYTES },
      auth: {
        credentialsFile: space.credentialsFile,
        maxConnectionsPerSecondPerSource: CONNECTIONS_PER_SECOND,
        maxAuthFailuresPerTruck: MAX_AUTH_FAILURES,
        maxAuthFailuresPerSource: MAX_SOURCE_FAILURES,
        authFailureWindowMs: 10_000,
        blockMs: BLOCK_MS,
      },
      // One partition: a marker record published later is read after anything that landed before it.
      kafka: {
        brokers: kafkaBrokers(),
        topics,
        partitions: 1,
        replicationFactor: 1,
        connectionTimeoutMs: 1_000,
      },
      forwarder: { retryMaxMs: 500 },
      http: { host: "127.0.0.1", port: 0 },
    });
    ({ bridge, port } = await startBridge(config));
  });

  afterAll(async () => {
    await closeAll(clients);
    await bridge?.stop();
    await deleteTopics(kafka, Object.values(topics));
    await space?.remove();
  });

  it("a publish above maxPacketBytes closes the connection and none of it reaches Kafka; others carry on", async () => {
    // MQTT 5 clients are told the limit in the CONNACK (section 3.2.2.3.6), so well-behaved ones never exceed it.
    const informed = await attempt(port, "127.0.0.20", "T-big");
    expect(informed.ok && informed.connack.properties?.maximumPacketSize).toBe(MAX_PACKET_BYTES);
    if (informed.ok) await informed.client.endAsync();

    const publishesBefore = await counterValue(bridge, "fleetsync_bridge_publishes_total", { kind: "telemetry" });
    const refusedBefore = await counterValue(bridge, "fleetsync_bridge_connections_refused_total", {
      reason: "packet-size",
    });
    // MQTT 3.1.1 clients are not told; these two ignore the limit. The first packet (a few KB) arrives in one socket
    // read, complete; the second (1 MB) in many reads, and must be refused on its header, before it is buffered.
    // JSON form: the binary form compresses similar records far below the limit.
    const records = (count: number, from: number) =>
      Array.from({ length: count }, (_, i) => telemetry("T-big", from + i));
    const small = encodeTelemetry(records(40, 1_000), { format: "json" });
    const large = encodeTelemetry(records(1_000, 2_000), { format: "json" });
    expect(small.length).toBeGreaterThan(MAX_PACKET_BYTES);
    expect(small.length).toBeLessThan(16_384);
    expect(large.length).toBeGreaterThan(64 * 1024);
    for (const payload of [small, large]) {
      const client = await connected(port, "127.0.0.20", "T-big", { protocolVersion: 4 });
      let outcome: "closed" | "acknowledged" | undefined;
      client.once("close", () => {
        outcome ??= "closed";
      });
      client.publish(topicFor("T-big", "telemetry"), payload, { qos: 1 }, (error) => {
        if (!error) outcome ??= "acknowledged";
      });
      expect([payload.length, await waitFor(() => outcome, "the connection closed or a PUBACK")]).toEqual([
        payload.length,
        "closed",
      ]);
    }
    expect(await counterValue(bridge, "fleetsync_bridge_connections_refused_total", { reason: "packet-size" })).toBe(
      refusedBefore + 2,
    );

    // Another truck, and the same truck with a normal packet, keep working on the same bridge.
    const normal = await connected(port, "127.0.0.21", "T-normal");
    clients.push(normal);
    await normal.publishAsync(topicFor("T-normal", "telemetry"), encodeTelemetry([telemetry("T-normal", 1)]), {
      qos: 1,
    });
    const again = await connected(port, "127.0.0.20", "T-big", { protocolVersion: 4 });
    clients.push(again);
    await again.publishAsync(topicFor("T-big", "telemetry"), encodeTelemetry([telemetry("T-big", 1)]), { qos: 1 });
    // Markers published after the refusals, on one-partition topics: once they are read, anything of the refused
    // packets that had been forwarded would have been read before them.
    await normal.publishAsync(topicFor("T-normal", "telemetry"), Buffer.from("not a record"), { qos: 1 });
    const telemetryRecords = await readUntil(
      kafka,
      topics.telemetry,
      (r) => byKey(r, "T-normal").length >= 1 && byKey(r, "T-big").length >= 1,
      "the normal records",
    );
    const deadLetters = await readUntil(kafka, topics.deadletter, (r) => byKey(r, "T-normal").length >= 1, "marker");
    const bigSeqs = byKey(telemetryRecords, "T-big").map((r) => (JSON.parse(r.value!) as { seq: number }).seq);
    expect(bigSeqs).toEqual([1]);
    expect(byKey(deadLetters, "T-big")).toEqual([]);
    expect(await counterValue(bridge, "fleetsync_bridge_publishes_total", { kind: "telemetry" })).toBe(
      publishesBefore + 2,
    );

    const health = await fetch(`http://127.0.0.1:${bridge.address("http")!.port}/healthz`);
    expect(health.status).toBe(200);
  });

  it("connections beyond the per-source rate are refused before MQTT, counted, and the source recovers", async () => {
    const refusedBefore = await counterValue(bridge, "fleetsync_bridge_connections_refused_total", { reason: "rate" });
    const source = "127.0.0.30";
    const attempts = await Promise.all(RATE_TRUCKS.map((truck) => attempt(port, source, truck)));
    const accepted = attempts.filter((a) => a.ok);
    const refused = attempts.filter((a) => !a.ok);
    // The bucket holds BURST tokens; at most one more refills while the attempts are under way (2 per second).
    expect(accepted.length).toBeGreaterThanOrEqual(BURST);
    expect(accepted.length).toBeLessThanOrEqual(BURST + 1);
    // Refused at accept: the socket is closed before any CONNACK, so no reason code reaches the client.
    for (const r of refused) expect(r.ok === false && r.reasonCode).toBeUndefined();
    expect(await counterValue(bridge, "fleetsync_bridge_connections_refused_total", { reason: "rate" })).toBe(
      refusedBefore + refused.length,
    );
    await closeAll(accepted.map((a) => (a.ok ? a.client : undefined)).filter((c) => c !== undefined));

    // Another source is not affected while this one is out of tokens.
    clients.push(await connected(port, "127.0.0.31", "T-other"));

    // Tokens refill at CONNECTIONS_PER_SECOND: within about half a second the source may connect again.
    const recovered = await waitFor(
      async () => {
        const next = await attempt(port, source, "T-rate-0");
        return next.ok ? next.client : undefined;
      },
      "a connection from the rate-limited source",
      { timeoutMs: 5_000, intervalMs: 100 },
    );
    clients.push(recovered);
  });

  it("repeated wrong passwords block that truck from that source, with a CONNACK; its neighbours still log in", async () => {
    const source = "127.0.0.40";
    const failuresBefore = await counterValue(bridge, "fleetsync_bridge_auth_failures_total", {
      reason: "bad-credentials",
    });
    for (let i = 0; i < MAX_AUTH_FAILURES; i += 1) {
      const wrong = await attempt(port, source, "T-guess", { password: `guess-${i}` });
      // MQTT 5 CONNACK 0x86 Bad User Name or Password (section 3.2.2.2).
      expect(wrong).toMatchObject({ ok: false, reasonCode: 0x86 });
    }
    const blockedAt = Date.now();
    expect(await counterValue(bridge, "fleetsync_bridge_auth_failures_total", { reason: "bad-credentials" })).toBe(
      failuresBefore + MAX_AUTH_FAILURES,
    );

    // Blocked: the correct password for T-guess from this source gets CONNACK 0x87 Not authorized, not a bare close.
    const correct = await attempt(port, source, "T-guess");
    expect(correct).toMatchObject({ ok: false, reasonCode: 0x87 });
    // Another truck behind the same address logs in and publishes (many trucks share a carrier's address).
    const neighbour = await connected(port, source, "T-neighbour");
    await neighbour.publishAsync(topicFor("T-neighbour", "telemetry"), encodeTelemetry([telemetry("T-neighbour", 1)]), {
      qos: 1,
    });
    await neighbour.endAsync();
    // The guessed truck from elsewhere logs in: a guesser cannot lock a truck out.
    const elsewhere = await connected(port, "127.0.0.41", "T-guess");
    await elsewhere.endAsync();

    // The block ends by itself after blockMs; not before.
    const back = await waitFor(
      async () => {
        const next = await attempt(port, source, "T-guess");
        return next.ok ? next.client : undefined;
      },
      "the blocked truck to log in again from that source",
      { timeoutMs: BLOCK_MS + 5_000, intervalMs: 100 },
    );
    clients.push(back);
    expect(Date.now() - blockedAt).toBeGreaterThanOrEqual(BLOCK_MS - 100);
  });

  it("a source failing for many truck ids reaches the per-source ceiling: every login from it is refused", async () => {
    const source = "127.0.0.42";
    for (let i = 0; i < MAX_SOURCE_FAILURES; i += 1) {
      const wrong = await attempt(port, source, `T-spray-${i}`, { password: "spray-password" });
      expect(wrong).toMatchObject({ ok: false, reasonCode: 0x86 });
    }
    const refused = await attempt(port, source, "T-other");
    expect(refused).toMatchObject({ ok: false, reasonCode: 0x87 });
    const elsewhere = await connected(port, "127.0.0.43", "T-other");
    await elsewhere.endAsync();
  });
});
