/**
 * Pre-login flood (not a test): `npm run bench:prelogin`. Measures the bridge process's RSS while sockets that never
 * log in each send most of a large CONNECT (issue 13.4): ADDRESSES loopback source addresses (127.0.1.x) x
 * PER_ADDRESS sockets, each announcing a CONNECT of 256,000 bytes and sending 250 KB of it, then nothing more.
 * Loopback only, a bounded number of sockets, closed at the end. Ends with one JSON line of the figures.
 * Scale with FLOOD_ADDRESSES (default 45) and FLOOD_PER_ADDRESS (default 100).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../deploy/kafka/local-kafka.ts";
import { BUILD_ENV, buildFleetsync, fleetsyncCommand, removeBuild } from "../support/build.ts";
import { connectHeader } from "../support/mqtt-bytes.ts";

const ADDRESSES = Number(process.env.FLOOD_ADDRESSES ?? 45);
const PER_ADDRESS = Number(process.env.FLOOD_PER_ADDRESS ?? 100);
const ANNOUNCED = 256_000;
const SENT = 250_000;
const log = (line: string) => process.stderr.write(`${line}\n`);

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

function flood(port: number, address: string): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress: address }, () => {
      socket.write(connectHeader(ANNOUNCED));
      const chunk = Buffer.alloc(16_384, 0x41);
      for (let sent = 0; sent < SENT; sent += chunk.length)
        socket.write(chunk.subarray(0, Math.min(chunk.length, SENT - sent)));
      resolve(socket);
    });
    socket.on("error", () => resolve(socket));
  });
}

async function main(): Promise<void> {
  const ownBuild = process.env[BUILD_ENV] ? undefined : await buildFleetsync();
  if (ownBuild) process.env[BUILD_ENV] = ownBuild;
  const dir = await mkdtemp(join(tmpdir(), "fleetsync-flood-"));
  const port = await freePort();
  const configFile = join(dir, "bridge.json");
  const brokers = process.env.KAFKA_BROKERS?.split(",") ?? [`127.0.0.1:${await freePort()}`];
  // Per-source connection rate generous enough that the flood reaches the bridge (the attack did).
  await writeFile(
    configFile,
    JSON.stringify({
      listener: { tcp: { host: "127.0.0.1", port } },
      auth: { maxConnectionsPerSecondPerSource: 1_000 },
      kafka: { brokers, connectionTimeoutMs: 500 },
    }),
  );
  const child: ChildProcess = spawn(process.execPath, [...fleetsyncCommand(), "bridge", "--config", configFile], {
    stdio: ["ignore", "pipe", "ignore"],
    env: { ...process.env, FLEETSYNC_LOG_LEVEL: "error" },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      let out = "";
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk;
        if (out.includes('"ready":true')) resolve();
      });
      child.once("exit", (code) => reject(new Error(`bridge exited ${code}`)));
    });
    const pid = child.pid!;
    const baseline = await rssMb(pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      void rssMb(pid).then(
        (mb) => (peak = Math.max(peak, mb)),
        () => undefined,
      );
    }, 100);
    const began = Date.now();
    const sockets: Socket[] = [];
    for (let a = 1; a <= ADDRESSES; a += 1) {
      const batch = await Promise.all(Array.from({ length: PER_ADDRESS }, () => flood(port, `127.0.1.${a}`)));
      sockets.push(...batch);
    }
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const open = sockets.filter((s) => !s.destroyed && s.readyState === "open").length;
    const during = await rssMb(pid);
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    clearInterval(sampler);
    const after = await rssMb(pid);
    const figures = {
      sockets: sockets.length,
      stillOpenAfter6s: open,
      floodSeconds: (Date.now() - began) / 1000,
      rssMb: { baseline, peak, at6s: during, afterClose: after },
    };
    log(`pre-login flood: ${JSON.stringify(figures)}`);
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    if (ownBuild) removeBuild(ownBuild);
  }
}

await main();
