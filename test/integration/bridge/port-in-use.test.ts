/**
 * `fleetsync bridge` whose MQTT port is taken: it says which field and address, and exits non-zero so systemd
 * restarts it (and an operator reads why), instead of Node's bare `listen EADDRINUSE` or a process that stays up
 * without listening because the Kafka clients it had already started keep it alive.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { fleetsyncCommand } from "../../support/build.ts";
import { holdPort, inUse } from "../../support/held-port.ts";
import { kafkaBrokers } from "../../support/kafka.ts";
import { REPO, writeBridgeFiles } from "../../e2e/bridge.ts";
import { testTopics } from "./harness.ts";

describe("fleetsync bridge with its MQTT port taken", () => {
  it("exits 1 naming listener.tcp.port and the address", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fleetsync-port-in-use-"));
    const held = await holdPort();
    try {
      const files = await writeBridgeFiles({
        dir,
        brokers: kafkaBrokers(),
        topics: testTopics("port-in-use"),
        trucks: {},
      });
      const config = JSON.parse(await readFile(files.configFile, "utf8"));
      config.listener.tcp.port = held.port;
      await writeFile(files.configFile, JSON.stringify(config));
      const child = spawn(process.execPath, [...fleetsyncCommand(), "bridge", "--config", files.configFile], {
        cwd: REPO,
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, FLEETSYNC_LOG_LEVEL: "warn" },
      });
      let stderr = "";
      child.stderr.on("data", (chunk) => (stderr += chunk));
      // A generous deadline (start-up includes Kafka's answer); a process still up after it is the failure.
      const deadline = setTimeout(() => child.kill("SIGKILL"), 60_000);
      const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child.on("exit", (code, signal) => resolve({ code, signal })),
      );
      clearTimeout(deadline);
      expect(exit, stderr).toEqual({ code: 1, signal: null });
      expect(stderr).toContain(`fleetsync bridge: ${inUse("listener.tcp.port", held.port)} [FLEET_CONFIG_INVALID]`);
    } finally {
      await held.release();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
