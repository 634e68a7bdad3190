/**
 * The bridge's TLS listener with client certificates, end to end against the run's real Kafka. A fleet CA, a foreign
 * CA, the server certificate and truck certificates are made here with openssl. Two bridges:
 *
 * - in this process (createBridge), certificates optional (requireClientCertificate false): a certificate whose CN is
 *   the truck id logs in without a password; it cannot log in or publish as another truck; a certificate from
 *   another CA is not trusted (without a password the login is refused); password login over TLS still works.
 * - the CLI process (`fleetsync bridge --config FILE`, relative paths in the file), certificates required: the fleet
 *   certificate logs in, a foreign one or none fails the TLS handshake.
 *
 * Clients connect from distinct loopback source addresses (127.0.0.x), so the per-source limits of one test do not
 * reach another.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { IClientOptions, MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Bridge, createBridge } from "../../../bridge/bridge.ts";
import { parseBridgeConfig } from "../../../bridge/config.ts";
import { encodeTelemetry } from "../../../protocol/codec.ts";
import { topicFor } from "../../../protocol/topics.ts";
import { deleteTopics, kafkaBrokers, type ReadRecord, readUntil, testKafka } from "../../support/kafka.ts";
import { testPki } from "../../support/pki.ts";
import { fleetsyncCommand } from "../../support/build.ts";
import { waitFor } from "../../support/wait.ts";
import {
  attemptConnect,
  byKey,
  closeAll,
  counterValue,
  PASSWORD,
  type TestTopics,
  telemetry,
  testTopics,
  type Workspace,
  workspace,
} from "./harness.ts";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
/** Has a certificate, no password. */
const CERT_TRUCK = "T-cert-A";
/** Has a password, no certificate. */
const PASSWORD_TRUCK = "T-cert-B";
const RATE = 0.4;

interface Identity {
  cert: Buffer;
  key: Buffer;
}

interface Pki {
  ca: Buffer;
  /** Signed by the fleet CA, CN = CERT_TRUCK. */
  truck: Identity;
  /** Signed by another CA, same CN. */
  foreign: Identity;
}

/** Files in `dir`: ca.pem (fleet CA), server.pem/server.key (localhost), and the two client identities. */
function makePki(dir: string): Pki {
  const pki = testPki(dir);
  pki.ca("ca", "FleetSync test fleet CA");
  pki.ca("other-ca", "Some other CA");
  pki.issue("server", "localhost", "ca", { server: true });
  pki.issue("truck", CERT_TRUCK, "ca");
  pki.issue("foreign", CERT_TRUCK, "other-ca");
  const read = (name: string) => readFileSync(join(dir, name));
  return {
    ca: read("ca.pem"),
    truck: { cert: read("truck.pem"), key: read("truck.key") },
    foreign: { cert: read("foreign.pem"), key: read("foreign.key") },
  };
}

/** TLS to the bridge from a chosen loopback source address (tls.connect takes the TCP socket to run over). */
function tlsFrom(port: number, localAddress: string, options: { ca: Buffer; cert?: Buffer; key?: Buffer }) {
  const socket = netConnect({ host: "127.0.0.1", port, localAddress });
  return tlsConnect({ socket, servername: "localhost", ...options });
}

/** One MQTT 5 connection attempt over TLS from `localAddress`, with a client certificate or without. */
function attemptTls(
  port: number,
  ca: Buffer,
  localAddress: string,
  identity: Identity | undefined,
  options: IClientOptions,
) {
  return attemptConnect(() => tlsFrom(port, localAddress, { ca, ...identity }), options);
}

function seqs(records: ReadRecord[], key: string): number[] {
  return byKey(records, key).map((r) => (JSON.parse(r.value!) as { seq: number }).seq);
}

/** The bridge as operators run it; resolves with the process and its TLS port once it printed its ready line. */
function startBridgeProcess(configFile: string): Promise<{ child: ChildProcess; tlsPort: number }> {
  // The build under node, one process (test/support/build.ts).
  const child = spawn(process.execPath, [...fleetsyncCommand(), "bridge", "--config", configFile], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, FLEETSYNC_LOG_LEVEL: "warn" },
  });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (chunk) => {
      stdout += chunk;
      const line = stdout.split("\n").find((l) => l.includes('"ready":true'));
      if (line) resolve({ child, tlsPort: (JSON.parse(line) as { tls: number }).tls });
    });
    child.once("exit", (code) => reject(new Error(`bridge exited with ${code} before it was ready: ${stderr}`)));
  });
}

describe("bridge TLS listener and client certificates (real Kafka, MQTT 5 over TLS)", () => {
  const kafka = testKafka("bridge-tls-test");
  let space: Workspace;
  let pki: Pki;
  let topics: TestTopics;
  let cliTopics: TestTopics;
  let bridge: Bridge;
  let port: number;
  let cli: { child: ChildProcess; tlsPort: number } | undefined;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    space = await workspace([PASSWORD_TRUCK]);
    pki = makePki(space.dir);
    topics = testTopics("tls");
    cliTopics = testTopics("tls-cli");
    const kafkaConfig = (t: TestTopics) => ({
      brokers: kafkaBrokers(),
      topics: t,
      partitions: 1, // a marker read from the topic comes after everything written before it
      replicationFactor: 1,
      connectionTimeoutMs: 1_000,
    });
    const listener = (requireClientCertificate: boolean, at: (file: string) => string) => ({
      tls: {
        host: "127.0.0.1",
        port: 0,
        certFile: at("server.pem"),
        keyFile: at("server.key"),
        caFile: at("ca.pem"),
        requireClientCertificate,
      },
    });
    // The CLI's file names the certificate files relative to itself, as an operator's would.
    const configFile = join(space.dir, "bridge.json");
    await writeFile(
      configFile,
      JSON.stringify({
        listener: listener(true, (file) => file),
        auth: { credentialsFile: "credentials.json" },
        kafka: kafkaConfig(cliTopics),
        http: { host: "127.0.0.1", port: 0 },
      }),
    );
    const inProcess = parseBridgeConfig({
      listener: listener(false, (file) => join(space.dir, file)),
      // Burst 2 per source, one more every 2.5 s: each test below uses sources of its own.
      auth: { credentialsFile: space.credentialsFile, maxConnectionsPerSecondPerSource: RATE },
      kafka: kafkaConfig(topics),
    });
    bridge = createBridge(inProcess);
    const started = startBridgeProcess(configFile);
    await bridge.start();
    port = bridge.address("tls")!.port;
    cli = await started;
  });

  afterAll(async () => {
    await closeAll(clients);
    await bridge?.stop();
    if (cli?.child.exitCode === null) {
      const exited = new Promise<void>((resolve) => cli!.child.once("exit", () => resolve()));
      cli.child.kill("SIGTERM");
      await exited;
    }
    await deleteTopics(kafka, [...Object.values(topics), ...Object.values(cliTopics)]);
    await space?.remove();
  });

  const asTruck = (truckId: string, extra: IClientOptions = {}): IClientOptions => ({ clientId: truckId, ...extra });
  /** CERT_TRUCK logs in with its certificate alone, from `address`; it must be accepted. Closed after the tests. */
  const certificateLogin = async (tlsPort: number, address: string) => {
    const result = await attemptTls(tlsPort, pki.ca, address, pki.truck, asTruck(CERT_TRUCK));
    if (!result.ok) throw new Error(`certificate login refused: ${result.error}`);
    clients.push(result.client);
    return result.client;
  };

  it("a truck whose certificate CN is its id logs in without a password, and its record lands in Kafka", async () => {
    // CERT_TRUCK has no entry in the credentials file: the certificate alone logs it in.
    const client = await certificateLogin(port, "127.0.0.50");
    await client.publishAsync(topicFor(CERT_TRUCK, "telemetry"), encodeTelemetry([telemetry(CERT_TRUCK, 1)]), {
      qos: 1,
    });
    // Ended here: the next test logs in as the same truck, which would take this session over.
    await client.endAsync();
    const records = await readUntil(kafka, topics.telemetry, (r) => byKey(r, CERT_TRUCK).length >= 1, "the record");
    expect(seqs(records, CERT_TRUCK)).toEqual([1]);
  });

  it("a certificate for truck A can neither log in as truck B (even with B's password) nor publish as B", async () => {
    const mismatchBefore = await counterValue(bridge, "fleetsync_bridge_auth_failures_total", {
      reason: "certificate-mismatch",
    });
    const asB = await attemptTls(
      port,
      pki.ca,
      "127.0.0.51",
      pki.truck,
      asTruck(PASSWORD_TRUCK, { username: PASSWORD_TRUCK, password: PASSWORD }),
    );
    // MQTT 5 CONNACK 0x86 Bad User Name or Password.
    expect(asB).toMatchObject({ ok: false, reasonCode: 0x86 });
    expect(await counterValue(bridge, "fleetsync_bridge_auth_failures_total", { reason: "certificate-mismatch" })).toBe(
      mismatchBefore + 1,
    );

    const aclBefore = await counterValue(bridge, "fleetsync_bridge_publishes_refused_total", { reason: "acl" });
    const asA = await certificateLogin(port, "127.0.0.52");
    let outcome: "closed" | "acknowledged" | undefined;
    asA.once("close", () => {
      outcome ??= "closed";
    });
    asA.publish(
      topicFor(PASSWORD_TRUCK, "telemetry"),
      encodeTelemetry([telemetry(PASSWORD_TRUCK, 666)]),
      { qos: 1 },
      (error) => {
        if (!error) outcome ??= "acknowledged";
      },
    );
    expect(await waitFor(() => outcome, "the connection closed or a PUBACK")).toBe("closed");
    expect(await counterValue(bridge, "fleetsync_bridge_publishes_refused_total", { reason: "acl" })).toBe(
      aclBefore + 1,
    );

    // A marker from A after the refusal: once it is read, a forwarded record of B's would have been read before it.
    const again = await certificateLogin(port, "127.0.0.52");
    await again.publishAsync(topicFor(CERT_TRUCK, "telemetry"), encodeTelemetry([telemetry(CERT_TRUCK, 2)]), {
      qos: 1,
    });
    const records = await readUntil(kafka, topics.telemetry, (r) => seqs(r, CERT_TRUCK).includes(2), "the marker");
    expect(seqs(records, PASSWORD_TRUCK)).not.toContain(666);
  });

  it("a certificate from another CA is not trusted: without a password the login is refused", async () => {
    const failuresBefore = await counterValue(bridge, "fleetsync_bridge_auth_failures_total", {
      reason: "bad-credentials",
    });
    const foreign = await attemptTls(port, pki.ca, "127.0.0.53", pki.foreign, asTruck(CERT_TRUCK));
    expect(foreign).toMatchObject({ ok: false, reasonCode: 0x86 });
    expect(await counterValue(bridge, "fleetsync_bridge_auth_failures_total", { reason: "bad-credentials" })).toBe(
      failuresBefore + 1,
    );
  });

  it("password login over TLS still works, and a wrong password over TLS is refused", async () => {
    const wrong = await attemptTls(
      port,
      pki.ca,
      "127.0.0.54",
      undefined,
      asTruck(PASSWORD_TRUCK, { username: PASSWORD_TRUCK, password: "not the password" }),
    );
    expect(wrong).toMatchObject({ ok: false, reasonCode: 0x86 });
    const result = await attemptTls(
      port,
      pki.ca,
      "127.0.0.54",
      undefined,
      asTruck(PASSWORD_TRUCK, { username: PASSWORD_TRUCK, password: PASSWORD }),
    );
    if (!result.ok) throw new Error(`password login over TLS refused: ${result.error}`);
    clients.push(result.client);
    await result.client.publishAsync(
      topicFor(PASSWORD_TRUCK, "telemetry"),
      encodeTelemetry([telemetry(PASSWORD_TRUCK, 1)]),
      { qos: 1 },
    );
    const records = await readUntil(kafka, topics.telemetry, (r) => seqs(r, PASSWORD_TRUCK).includes(1), "the record");
    expect(seqs(records, PASSWORD_TRUCK)).toEqual([1]);
  });

  it("TLS connections beyond the per-source rate are refused before the handshake, and counted", async () => {
    const refusedBefore = await counterValue(bridge, "fleetsync_bridge_connections_refused_total", { reason: "rate" });
    const sockets: TLSSocket[] = [];
    const handshake = () =>
      new Promise<"secured" | "closed">((resolve) => {
        const socket = tlsFrom(port, "127.0.0.57", { ca: pki.ca });
        sockets.push(socket);
        socket.once("secureConnect", () => resolve("secured"));
        socket.once("close", () => resolve("closed"));
        socket.on("error", () => undefined);
      });
    try {
      // The burst (5 x RATE = 2) handshakes; the next connection is closed before the server answers its hello.
      expect([await handshake(), await handshake(), await handshake()]).toEqual(["secured", "secured", "closed"]);
      expect(await counterValue(bridge, "fleetsync_bridge_connections_refused_total", { reason: "rate" })).toBe(
        refusedBefore + 1,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  it("the CLI bridge requiring certificates: the fleet certificate logs in; a foreign one or none fails the handshake", async () => {
    const tlsPort = cli!.tlsPort;
    const client = await certificateLogin(tlsPort, "127.0.0.55");
    await client.publishAsync(topicFor(CERT_TRUCK, "telemetry"), encodeTelemetry([telemetry(CERT_TRUCK, 9)]), {
      qos: 1,
    });
    const records = await readUntil(kafka, cliTopics.telemetry, (r) => seqs(r, CERT_TRUCK).includes(9), "the record");
    expect(seqs(records, CERT_TRUCK)).toEqual([9]);

    const foreign = await attemptTls(tlsPort, pki.ca, "127.0.0.56", pki.foreign, asTruck(CERT_TRUCK));
    const none = await attemptTls(
      tlsPort,
      pki.ca,
      "127.0.0.56",
      undefined,
      asTruck(PASSWORD_TRUCK, { username: PASSWORD_TRUCK, password: PASSWORD }),
    );
    for (const refused of [foreign, none]) {
      // Refused in TLS, before MQTT: no CONNACK (an MQTT refusal would carry reason code 0x86). With TLS 1.3 the
      // server checks the client certificate after the client considers the handshake done, so the client sees
      // the session end (alert 116 "certificate required" without one; a plain close for an untrusted one).
      expect(refused).toMatchObject({ ok: false });
      expect(refused.ok === false && refused.reasonCode).toBeUndefined();
    }
  });

  it("mosquitto_pub (a third-party MQTT 5 client) logs in to the CLI bridge with the truck's certificate alone", async () => {
    const record = { ...telemetry(CERT_TRUCK, 77) } as Record<string, unknown>;
    delete record.truckId;
    await run(
      "mosquitto_pub",
      [
        ...["-h", "127.0.0.1", "-p", String(cli!.tlsPort), "-A", "127.0.0.58", "-V", "mqttv5", "-q", "1"],
        ...["--cafile", "ca.pem", "--cert", "truck.pem", "--key", "truck.key", "-i", CERT_TRUCK],
        ...["-t", topicFor(CERT_TRUCK, "telemetry"), "-m", JSON.stringify(record)],
      ],
      { cwd: space.dir },
    );
    const records = await readUntil(kafka, cliTopics.telemetry, (r) => seqs(r, CERT_TRUCK).includes(77), "the record");
    expect(seqs(records, CERT_TRUCK)).toContain(77);
  });
});
