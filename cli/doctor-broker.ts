/**
 * The broker half of `fleetsync doctor`: can the truck reach the broker, are its credentials accepted, and does a
 * test record get through end to end (PUBACK, then the bridge's MQTT 5 confirmation when the bridge sends one).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { UplinkConfig } from "../agent/uplink/index.ts";
import {
  type ConfirmReply,
  confirmRequestProperties,
  confirmTopic,
  encodeTelemetry,
  type Gps,
  parseConfirmReply,
  type TelemetryRecord,
  topicFor,
} from "../protocol/index.ts";
import { FleetError } from "../common/errors.ts";

export type StepStatus = "pass" | "fail" | "warn" | "skip";

export interface Step {
  step: string;
  status: StepStatus;
  detail: string;
  data?: Record<string, unknown>;
}

function hostPort(url: string): { host: string; port: number; tls: boolean } {
  const u = new URL(url);
  const tls = u.protocol === "mqtts:" || u.protocol === "tls:" || u.protocol === "ssl:";
  return { host: u.hostname, port: u.port ? Number(u.port) : tls ? 8883 : 1883, tls };
}

/** TCP (and TLS, with the configured CA) connect only: tells "no route / firewall" from "MQTT says no". */
async function reachable(config: UplinkConfig, timeoutMs: number): Promise<Step> {
  const { host, port, tls } = hostPort(config.url);
  const began = Date.now();
  return new Promise<Step>((resolve) => {
    const ca = config.caFile ? readFileSync(config.caFile) : undefined;
    const socket = tls
      ? tlsConnect({ host, port, servername: host, ...(ca ? { ca } : {}) })
      : netConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({
        step: "broker reachable",
        status: "fail",
        detail: `no answer from ${host}:${port} in ${timeoutMs} ms`,
      });
    }, timeoutMs);
    socket.once(tls ? "secureConnect" : "connect", () => {
      clearTimeout(timer);
      socket.destroy();
      const ms = Date.now() - began;
      resolve({
        step: "broker reachable",
        status: "pass",
        detail: `${host}:${port} answered in ${ms} ms${tls ? " (TLS certificate accepted)" : " (plain TCP, no TLS)"}`,
        data: { host, port, tls, ms },
      });
    });
    socket.once("error", (error: Error & { code?: string }) => {
      clearTimeout(timer);
      resolve({
        step: "broker reachable",
        status: "fail",
        detail: `${host}:${port}: ${error.code ?? ""} ${error.message}`.trim(),
      });
    });
  });
}

function connectOnce(truckId: string, config: UplinkConfig, timeoutMs: number): Promise<MqttClient> {
  const options: IClientOptions = {
    protocolVersion: config.protocolVersion,
    clientId: truckId,
    username: truckId,
    ...(config.password ? { password: config.password } : {}),
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    ...(config.caFile ? { ca: readFileSync(config.caFile) } : {}),
  };
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(config.url, options);
    client.once("connect", () => resolve(client));
    client.once("error", (error) => {
      client.end(true);
      reject(error);
    });
    client.once("close", () =>
      reject(new FleetError("FLEET_MQTT", `the broker at ${config.url} closed the connection before its CONNACK`)),
    );
  });
}

function testRecord(truckId: string, gps: Gps | undefined): TelemetryRecord {
  // A stream of its own: the test record must not take a seq from the truck's real stream.
  return {
    truckId,
    stream: randomBytes(8).toString("hex"),
    seq: 0,
    ts: new Date().toISOString(),
    timeSource: "system",
    ...(gps ? { gps } : {}),
  };
}

export async function checkBroker(
  truckId: string,
  config: UplinkConfig,
  options: { timeoutMs: number; confirmMs: number; gps?: Gps },
): Promise<Step[]> {
  const steps: Step[] = [await reachable(config, options.timeoutMs)];
  if (steps[0]!.status === "fail") {
    steps.push({ step: "credentials accepted", status: "skip", detail: "broker not reachable" });
    steps.push({ step: "test record", status: "skip", detail: "broker not reachable" });
    return steps;
  }
  let client: MqttClient;
  try {
    client = await connectOnce(truckId, config, options.timeoutMs);
  } catch (error) {
    const e = error as Error & { code?: number };
    const refused = e.code === 4 || e.code === 5 || e.code === 0x86 || e.code === 0x87 || e.code === 0x85;
    steps.push({
      step: "credentials accepted",
      status: "fail",
      detail: refused
        ? `the broker refused truck ${truckId}'s credentials (${e.message}): check the password and that the truck is registered`
        : `MQTT connect failed: ${e.message}`,
    });
    steps.push({ step: "test record", status: "skip", detail: "not connected" });
    return steps;
  }
  steps.push({
    step: "credentials accepted",
    status: "pass",
    detail: `connected as ${truckId} (MQTT ${config.protocolVersion === 5 ? "5" : "3.1.1"})`,
  });
  try {
    steps.push(await sendTestRecord(client, truckId, config, options));
  } finally {
    await client.endAsync(true).catch(() => {});
  }
  return steps;
}

async function sendTestRecord(
  client: MqttClient,
  truckId: string,
  config: UplinkConfig,
  options: { timeoutMs: number; confirmMs: number; gps?: Gps },
): Promise<Step> {
  const record = testRecord(truckId, options.gps);
  const payload = encodeTelemetry([record], { format: config.format });
  const v5 = config.protocolVersion === 5;
  const props = confirmRequestProperties(truckId);
  let reply: Promise<ConfirmReply | undefined> = Promise.resolve(undefined);
  if (v5) {
    await client.subscribeAsync(confirmTopic(truckId), { qos: 1 }).catch(() => undefined);
    reply = new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), options.confirmMs);
      client.on("message", (_topic, body, packet) => {
        const correlation = packet.properties?.correlationData;
        if (!correlation || !Buffer.from(correlation).equals(props.correlationData)) return;
        clearTimeout(timer);
        try {
          resolve(parseConfirmReply(body));
        } catch (error) {
          resolve({ ok: false, code: "FLEET_PAYLOAD_INVALID", reason: (error as Error).message });
        }
      });
    });
  }
  const began = Date.now();
  const acked = await Promise.race([
    client.publishAsync(topicFor(truckId, "telemetry"), payload, { qos: 1, ...(v5 ? { properties: props } : {}) }).then(
      () => true,
      (error: Error) => error,
    ),
    new Promise<false>((r) => setTimeout(() => r(false), options.timeoutMs).unref()),
  ]);
  if (acked !== true) {
    return {
      step: "test record",
      status: "fail",
      detail:
        acked === false
          ? `no PUBACK in ${options.timeoutMs} ms (a FleetSync bridge withholds it while Kafka is down)`
          : `publish refused: ${acked.message}`,
    };
  }
  const pubackMs = Date.now() - began;
  if (!v5) {
    return {
      step: "test record",
      status: "pass",
      detail: `the broker acknowledged it in ${pubackMs} ms (MQTT 3.1.1: no end-to-end confirmation available)`,
      data: { stream: record.stream, pubackMs },
    };
  }
  const confirmation = await reply;
  if (!confirmation) {
    return {
      step: "test record",
      status: "warn",
      detail: `the broker acknowledged it in ${pubackMs} ms, but no confirmation came in ${options.confirmMs} ms (the broker is not a FleetSync bridge, or an older one)`,
      data: { stream: record.stream, pubackMs },
    };
  }
  if (!confirmation.ok) {
    return {
      step: "test record",
      status: "fail",
      detail: `the bridge refused it: ${confirmation.reason} [${confirmation.code}]`,
      data: { confirmation },
    };
  }
  return {
    step: "test record",
    status: "pass",
    detail: `written to Kafka ${confirmation.topic} partition ${confirmation.partition} offset ${confirmation.offset} (${Date.now() - began} ms end to end)`,
    data: { confirmation, stream: record.stream },
  };
}
