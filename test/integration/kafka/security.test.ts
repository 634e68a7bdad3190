/**
 * Issue 23 on a real Kafka with secure listeners (its OWN broker: `kafka.sh start --secure`, or KAFKA_SECURE_DIR):
 * the bridge delivers over SCRAM-SHA-512 + TLS and over mutual TLS; a pipeline consumes over SCRAM; `verify` and
 * `replay` run as processes with --kafka-config; each bad credential or certificate fails fast with one sentence
 * naming the cause; a bridge that cannot authenticate acknowledges nothing, /readyz says why, and its logs carry
 * neither a password nor a stack per retry.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { type Bridge, createBridge } from "../../../bridge/bridge.ts";
import { createKafkaClient, type KafkaConnectionSettings } from "../../../common/kafka/connection.ts";
import { kafkaFailure } from "../../../common/kafka/security.ts";
import { createLogger } from "../../../common/log.ts";
import { createMapService, parseMapConfig } from "../../../pipelines/map/index.ts";
import { encodeTelemetry } from "../../../protocol/codec.ts";
import { topicFor } from "../../../protocol/topics.ts";
import { runFleetsync } from "../../support/cli.ts";
import { readTopic } from "../../support/kafka.ts";
import { type SecureKafka, startSecureKafka } from "../../support/kafka-secure.ts";
import { testPki } from "../../support/pki.ts";
import { pubackWithin, waitFor } from "../../support/wait.ts";
import {
  bridgeConfig,
  closeAll,
  connectTruck,
  counterValue,
  telemetry,
  testTopics,
  type Workspace,
  workspace,
} from "../bridge/harness.ts";
import { committed, telemetryRunner } from "../pipelines/support.ts";

/** Every line a logger writes, for grepping (the bridge's own logger, at debug: everything it would ever say). */
function capturedLogger(): { logger: ReturnType<typeof createLogger>; text(): string } {
  let text = "";
  const sink = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { logger: createLogger("bridge", "debug", sink), text: () => text };
}

describe("Kafka security: SASL_SSL and mutual TLS listeners (own secure Kafka)", () => {
  let secure: SecureKafka;
  let dir: string;
  let space: Workspace;
  const clients: MqttClient[] = [];
  const bridges: Bridge[] = [];
  let otherCa: string;
  let rogue: { cert: string; key: string };
  let wrongPasswordFile: string;

  beforeAll(async () => {
    secure = await startSecureKafka();
    dir = await mkdtemp(join(tmpdir(), "fleetsync-kafka-security-"));
    space = await workspace(["sec-scram", "sec-mtls", "sec-wrong"]);
    // A CA the broker never heard of, and a client certificate it signed (test PKI helper).
    const pki = testPki(dir);
    otherCa = pki.ca("other-ca", "Some other CA").cert;
    rogue = pki.issue("rogue", "fleetsync-client", "other-ca");
    wrongPasswordFile = join(dir, "wrong.password");
    await writeFile(wrongPasswordFile, "not-the-password-4f1c9a\n");
  }, 240_000);

  afterAll(async () => {
    await closeAll(clients);
    for (const bridge of bridges) await bridge.stop().catch(() => undefined);
    await secure?.stop();
    await space?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function deliverThroughBridge(truckId: string, kafka: KafkaConnectionSettings) {
    const topics = testTopics(truckId);
    const log = capturedLogger();
    const { tls, sasl } = kafka;
    const logged = createBridge(
      bridgeConfig({
        brokers: kafka.brokers,
        topics,
        credentialsFile: space.credentialsFile,
        partitions: 2,
        kafka: { ...(tls ? { tls } : {}), ...(sasl ? { sasl } : {}) },
      }),
      { logger: log.logger },
    );
    bridges.push(logged);
    await logged.start();
    const truck = await connectTruck(logged.address("tcp")!.port, truckId);
    clients.push(truck);
    for (let seq = 0; seq < 5; seq += 1) {
      await truck.publishAsync(topicFor(truckId, "telemetry"), encodeTelemetry([telemetry(truckId, seq)]), { qos: 1 });
    }
    const records = await readTopic(secure.plain(), topics.telemetry, 5);
    expect(records.map((r) => (JSON.parse(r.value!) as { seq: number }).seq).sort()).toEqual([0, 1, 2, 3, 4]);
    const ready = await fetch(`http://127.0.0.1:${logged.address("http")!.port}/readyz`);
    expect([ready.status, await ready.text()]).toEqual([200, "ready\n"]);
    return { log, topics };
  }

  it("the bridge delivers over SCRAM-SHA-512 + TLS with the private CA; the password is never logged", async () => {
    const settings = secure.sasl("scram-sha-512");
    const { log } = await deliverThroughBridge("sec-scram", settings);
    const password = readFileSync(settings.sasl!.passwordFile!, "utf8").trim();
    expect(log.text()).not.toContain(password);
  });

  it("the bridge delivers over mutual TLS (client certificate required by the listener)", async () => {
    await deliverThroughBridge("sec-mtls", secure.mtls());
  });

  it("each bad credential or certificate fails fast with one sentence naming its cause", async () => {
    const scram = secure.sasl("scram-sha-512");
    const { caFile } = secure.listeners;
    const cases: [string, KafkaConnectionSettings, string][] = [
      [
        "wrong password",
        { ...scram, sasl: { ...scram.sasl!, passwordFile: wrongPasswordFile } },
        "SASL SCRAM-SHA-512 authentication failed: wrong user name or password (kafka.sasl)",
      ],
      [
        "unknown CA",
        { ...scram, tls: { caFile: otherCa } },
        `the broker's certificate is not signed by a CA in kafka.tls.caFile (${otherCa})`,
      ],
      [
        "system CA store against a private CA",
        { ...scram, tls: undefined, ssl: true },
        "the broker's certificate is not signed by a CA in the system store; set kafka.tls.caFile to the cluster's CA",
      ],
      [
        "plaintext client against the TLS listener",
        { ...scram, tls: undefined },
        "the broker closed the connection at the first request: the listener probably expects TLS (kafka.tls)",
      ],
      [
        "TLS client against the plaintext listener",
        { ...scram, brokers: [secure.listeners.plaintext], sasl: undefined },
        "the TLS handshake failed: the listener does not speak TLS (PLAINTEXT or SASL_PLAINTEXT?); remove kafka.tls and kafka.ssl or use the broker's TLS port",
      ],
      [
        "no client certificate at the mutual-TLS listener",
        { ...secure.mtls(), tls: { caFile } },
        "the listener requires a client certificate (mutual TLS): set kafka.tls.certFile and keyFile",
      ],
      [
        "a client certificate from another CA",
        { ...secure.mtls(), tls: { caFile, certFile: rogue.cert, keyFile: rogue.key } },
        "the broker does not trust our client certificate (kafka.tls.certFile): it is not signed by a CA the listener trusts",
      ],
      [
        "SASL at the mutual-TLS listener",
        { ...secure.mtls(), sasl: scram.sasl },
        "the listener does not use SASL (an SSL or PLAINTEXT listener): remove kafka.sasl or use the broker's SASL port",
      ],
    ];
    for (const [name, settings, reason] of cases) {
      const began = Date.now();
      // The bridge's own retry settings (bridge/kafka-sink/sink.ts).
      const kafka = createKafkaClient(
        { ...settings, clientId: "security-test" },
        { retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 } },
      );
      const admin = kafka.admin();
      const error = await admin.connect().then(
        () => new Error("connected"),
        (e: unknown) => e,
      );
      await admin.disconnect().catch(() => undefined);
      const failure = kafkaFailure("cannot reach Kafka", error, settings, { firstContact: true });
      expect([name, failure.code, failure.message]).toEqual([
        name,
        "FLEET_KAFKA_SECURITY",
        `cannot reach Kafka: ${reason}`,
      ]);
      // Fast: a refused login is not retried; a refused handshake is retried 3 times within a few seconds.
      expect(Date.now() - began, name).toBeLessThan(30_000);
    }
  });

  it("a bridge whose password Kafka refuses acknowledges nothing, says why on /readyz, logs the cause once and no secret", async () => {
    const scram = secure.sasl("scram-sha-512");
    const topics = testTopics("sec-wrong");
    const log = capturedLogger();
    const bridge = createBridge(
      bridgeConfig({
        brokers: scram.brokers,
        topics,
        credentialsFile: space.credentialsFile,
        partitions: 2,
        forwarder: { retryMaxMs: 200, drainTimeoutMs: 2_000 },
        kafka: { tls: scram.tls, sasl: { ...scram.sasl!, passwordFile: wrongPasswordFile } },
      }),
      { logger: log.logger },
    );
    bridges.push(bridge);
    await bridge.start();
    const truck = await connectTruck(bridge.address("tcp")!.port, "sec-wrong");
    clients.push(truck);
    const publish = truck.publishAsync(
      topicFor("sec-wrong", "telemetry"),
      encodeTelemetry([telemetry("sec-wrong", 0)]),
      {
        qos: 1,
      },
    );
    // Many failed attempts (retryMaxMs 200), and still no PUBACK: the record stays with the truck.
    await waitFor(
      async () => (await counterValue(bridge, "fleetsync_bridge_kafka_batches_total", { result: "error" })) >= 5,
      "five failed Kafka batches",
    );
    expect(await pubackWithin(publish, 0)).toBe("none");
    // The publish and the truck's online status record wait, unacknowledged.
    expect(bridge.forwarder.pendingRecords).toBeGreaterThanOrEqual(1);
    const ready = await fetch(`http://127.0.0.1:${bridge.address("http")!.port}/readyz`);
    const body = await ready.text();
    expect(ready.status).toBe(503);
    expect(body).toContain("SASL SCRAM-SHA-512 authentication failed: wrong user name or password (kafka.sasl)");

    const text = log.text();
    const lines = text.split("\n").filter(Boolean);
    const batchLines = lines.filter((l) => l.includes("Kafka batch failed"));
    // Once per cause (then at most once a minute with a count), not once per retry; no kafkajs stack.
    expect(batchLines.length).toBe(1);
    expect(batchLines[0]).toContain('"code":"FLEET_KAFKA_SECURITY"');
    expect(text).not.toContain('"stack"');
    for (const file of [wrongPasswordFile, scram.sasl!.passwordFile!]) {
      expect(text).not.toContain(readFileSync(file, "utf8").trim());
    }
    truck.end(true);
    await bridge.stop();
  });

  it("the pipeline runtime and the live map consume over SCRAM-SHA-512 + TLS; verify and replay work with --kafka-config", async () => {
    const scram = secure.sasl("scram-sha-512");
    const topics = testTopics("sec-pipe");
    // Records through a bridge over SCRAM, as in production.
    const bridge = createBridge(
      bridgeConfig({
        brokers: scram.brokers,
        topics,
        credentialsFile: space.credentialsFile,
        partitions: 1,
        kafka: { tls: scram.tls, sasl: scram.sasl },
      }),
    );
    bridges.push(bridge);
    await bridge.start();
    const truck = await connectTruck(bridge.address("tcp")!.port, "sec-scram");
    clients.push(truck);
    for (let seq = 0; seq < 4; seq += 1) {
      await truck.publishAsync(topicFor("sec-scram", "telemetry"), encodeTelemetry([telemetry("sec-scram", seq)]), {
        qos: 1,
      });
    }

    const groupId = `sec-pipe-${Date.now()}`;
    let seen = 0;
    const runner = telemetryRunner(
      topics.telemetry,
      groupId,
      { handler: { handle: (batch) => void (seen += batch.records.length) } },
      { kafka: scram },
    );
    await runner.start();
    await waitFor(() => seen >= 4, "the pipeline saw the 4 records");
    await waitFor(async () => (await committed(secure.plain(), groupId, topics.telemetry))[0] === "4", "committed");
    await runner.stop();

    const configFile = join(dir, "kafka.json");
    await writeFile(configFile, JSON.stringify(scram));
    const env = { ...process.env, KAFKA_BROKERS: "127.0.0.1:1" };
    const verify = await runFleetsync(
      ["verify", "--kafka-config", configFile, "--topic", topics.telemetry, "--expect", "4", "--timeout", "60"],
      env,
    );
    expect([verify.code, verify.stderr]).toEqual([
      0,
      expect.stringMatching(/^accounting: kept \d+ .*, produced \d+\n$/),
    ]);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });

    const replay = await runFleetsync(
      ["replay", "--kafka-config", configFile, "--group", groupId, "--to", "earliest", "--json"],
      env,
    );
    expect(replay.code, replay.stderr).toBe(0);
    expect(await committed(secure.plain(), groupId, topics.telemetry)).toEqual({ 0: "0" });

    // A real pipeline end to end over the same listener: the live map shows the truck.
    const map = createMapService(
      parseMapConfig({
        groupId: `${groupId}-map`,
        kafka: scram,
        topics: { telemetry: topics.telemetry, events: topics.events, status: topics.status, latest: topics.latest },
        http: { host: "127.0.0.1", port: 0 },
      }),
    );
    try {
      await map.start();
      await waitFor(() => map.state.get("sec-scram") !== undefined, "the map shows sec-scram");
    } finally {
      await map.stop();
    }
    await bridge.stop();
  });
});
