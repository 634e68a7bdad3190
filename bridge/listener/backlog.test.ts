/**
 * A reconnect storm's connections wait in the kernel's accept queue while the bridge's event loop is busy, instead
 * of being dropped (issue 21). With Node's default listen(2) backlog of 511 the kernel dropped every connection
 * beyond it, and each truck's TCP retried only after 1, 3, 7, 15 s: that, not the bridge's work, paced a
 * 5,000-truck storm. Real sockets: a child process opens the connections while this process (the listener's) is
 * blocked, so nothing is accepted and what completes is what the kernel queued.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../common/log.ts";
import { waitFor } from "../../test/support/wait.ts";
import { SourceLimiter } from "../auth/limiter.ts";
import type { Broker } from "../broker/broker.ts";
import { ListenerConfigSchema } from "./config.ts";
import { createListener, type Listener } from "./listener.ts";

const STORM = 1_200;
const somaxconn = (() => {
  try {
    return Number(readFileSync("/proc/sys/net/core/somaxconn", "utf8"));
  } catch {
    return 0;
  }
})();

/**
 * Opens argv[2] connections to port argv[1] once told "go" on stdin; writes how many completed their TCP handshake
 * to argv[3] when all did or none more did for a second, then holds them until killed.
 */
const CONNECTOR = `
const net = require("node:net");
const fs = require("node:fs");
const [port, count, out] = process.argv.slice(1).map((v, i) => (i < 2 ? Number(v) : v));
const held = [];
let connected = 0;
const report = () => {
  fs.writeFileSync(out + ".tmp", String(connected));
  fs.renameSync(out + ".tmp", out);
};
process.stdin.once("data", () => {
  for (let i = 0; i < count; i++) {
    const socket = net.connect(port, "127.0.0.1", () => {
      if (++connected === count) report();
    });
    socket.on("error", () => undefined);
    held.push(socket);
  }
  // Done when no handshake completed for 1 s (a dropped connection's TCP retries only after 1 s, and this process's
  // own loop may have been slow to see the ones that did complete).
  let last = -1;
  const settle = setInterval(() => {
    if (connected === last) {
      clearInterval(settle);
      report();
    }
    last = connected;
  }, 1000);
});
process.stdout.write("ready\\n");
setInterval(() => undefined, 1000);
`;

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

/** Blocks this thread (and so the listener's event loop) until `file` exists, at most `ms`. */
function blockUntil(file: string, ms: number): void {
  const deadline = Date.now() + ms;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (!existsSync(file) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 10);
}

describe("listener backlog", () => {
  it.skipIf(somaxconn < STORM)(
    "lets the kernel queue a storm of connections while the event loop is busy (listener.backlog)",
    async () => {
      const served: unknown[] = [];
      const broker: Pick<Broker, "handle"> = {
        handle(socket) {
          served.push(socket);
          return { clientId: undefined, onLogin: () => undefined };
        },
      };
      const listener: Listener = createListener(ListenerConfigSchema.parse({ tcp: { host: "127.0.0.1", port: 0 } }), {
        broker,
        limiter: new SourceLimiter({
          connectionsPerSecond: 100_000,
          maxAuthFailures: 5,
          maxAuthFailuresPerSource: 50,
          failureWindowMs: 60_000,
          blockMs: 60_000,
          maxTrackedSources: 1_000,
        }),
        logger: silentLogger,
      });
      await listener.start();
      const dir = await mkdtemp(join(tmpdir(), "fleetsync-backlog-"));
      const out = join(dir, "connected");
      const child = spawn(
        process.execPath,
        ["-e", CONNECTOR, String(listener.address("tcp")!.port), String(STORM), out],
        {
          stdio: ["pipe", "pipe", "inherit"],
        },
      );
      cleanup = async () => {
        child.kill("SIGKILL");
        await listener.stop();
        await rm(dir, { recursive: true, force: true });
      };
      await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
      // "go" is on its way before this thread blocks: from then on nothing is accepted until the child reported.
      await new Promise<void>((resolve) => child.stdin.write("go\n", () => resolve()));
      blockUntil(out, 60_000);
      const queued = Number(readFileSync(out, "utf8"));
      // Every one of them completed its handshake and waited in the queue (Node's default backlog held 512).
      expect(queued).toBe(STORM);
      // And once the loop runs again, the listener takes every one of them.
      await waitFor(() => served.length === STORM, `all ${STORM} queued connections to be served`);
    },
    90_000,
  );
});
