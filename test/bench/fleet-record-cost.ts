/**
 * The bridge's own per-record steps under fleet load, one at a time (issue 21), without Kafka or a load generator:
 *   - decode: one single-record binary telemetry payload (what a truck at 1 Hz sends) -> the validated record;
 *   - decode + messages: the same plus its Kafka message (the record's JSON and the publish's headers);
 *   - PUBACK: one PUBACK written to a loopback socket whose reader is another process, through mqtt-packet's writer
 *     as Aedes calls it and through the bridge's writer (bridge/broker/mqtt5.ts: one 4-byte write).
 * Medians of 5 rounds, in µs of CPU (user + system of this process for the PUBACK). Not in `npm run bench`: a
 * targeted run to measure a cut in seconds where `npm run bench:fleet` needs minutes and a calm machine.
 *
 *   npx tsx test/bench/fleet-record-cost.ts
 */
import { spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { loadavg } from "node:os";
import mqttPacket from "mqtt-packet";
import { installMqtt5Writer } from "../../bridge/broker/mqtt5.ts";
import { decodeTelemetry, encodeTelemetry } from "../../protocol/codec.ts";
import { toTelemetryMessages } from "../../protocol/kafka.ts";
import { simulateDrive } from "./wire-drive.ts";

const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function perPayload(f: (payload: Buffer) => unknown, payloads: Buffer[]): number {
  for (let warm = 0; warm < 3; warm++) for (const p of payloads) f(p);
  const rounds: number[] = [];
  for (let round = 0; round < 5; round++) {
    const began = process.cpuUsage();
    for (let k = 0; k < 20; k++) for (const p of payloads) f(p);
    const used = process.cpuUsage(began);
    rounds.push((used.user + used.system) / (20 * payloads.length));
  }
  return median(rounds);
}

async function perPuback(write: typeof mqttPacket.writeToStream, sockets: Socket[]): Promise<number> {
  const n = 200_000;
  const began = process.cpuUsage();
  for (let i = 0; i < n; i += sockets.length) {
    for (let j = 0; j < sockets.length; j++) {
      write({ cmd: "puback", messageId: ((i + j) % 65_535) + 1 } as never, sockets[j]! as never);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  const used = process.cpuUsage(began);
  return (used.user + used.system) / n;
}

const records = simulateDrive({}).slice(0, 2_000);
const payloads = records.map((record) => encodeTelemetry([record]));
const meta = { mqttTopic: "fleetsync/v1/truck-00007/telemetry", receivedAt: new Date() };
const decode = (p: Buffer) => decodeTelemetry("truck-00007", p, { maxBytes: 65_536 });
console.log(
  `load average ${loadavg()[0]!.toFixed(1)}; ${payloads.length} single-record payloads of ~${payloads[0]!.length} B`,
);
console.log(`decode:            ${perPayload(decode, payloads).toFixed(2)} µs per record`);
const withMessages = (p: Buffer) => {
  const result = decode(p);
  if (result.ok) toTelemetryMessages(result.records, meta);
};
console.log(`decode + messages: ${perPayload(withMessages, payloads).toFixed(2)} µs per record`);

// The reader is another process, as the trucks are: its reads are not counted here.
const reader = spawn(
  process.execPath,
  [
    "-e",
    "const s=require('net').createServer(c=>c.resume());s.listen(0,'127.0.0.1',()=>console.log(s.address().port))",
  ],
  { stdio: ["ignore", "pipe", "inherit"] },
);
try {
  const port = Number(await new Promise<string>((resolve) => reader.stdout.once("data", (d) => resolve(String(d)))));
  const sockets = await Promise.all(
    Array.from(
      { length: 500 },
      () =>
        new Promise<Socket>((resolve) => {
          const socket = connect(port, "127.0.0.1", () => resolve(socket));
        }),
    ),
  );
  const stock = mqttPacket.writeToStream;
  installMqtt5Writer();
  const bridge = mqttPacket.writeToStream;
  const a: number[] = [];
  const b: number[] = [];
  for (let round = 0; round < 5; round++) {
    a.push(await perPuback(stock, sockets));
    b.push(await perPuback(bridge, sockets));
  }
  console.log(
    `PUBACK (mqtt-packet, as Aedes writes it): ${median(a).toFixed(2)} µs; the bridge's one write: ${median(b).toFixed(2)} µs`,
  );
  for (const socket of sockets) socket.destroy();
} finally {
  reader.kill();
}
console.log(`load average ${loadavg()[0]!.toFixed(1)}`);
