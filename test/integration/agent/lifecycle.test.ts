/**
 * The lifecycle contract (common/lifecycle.ts, test/support/lifecycle-contract.ts) run by the agent's outbox (a real
 * LevelDB on disk) and its uplink (MQTT.js against a real Aedes broker over TCP). Busy means: records appended and
 * not yet committed (the outbox), a batch published and waiting for its PUBACK (the uplink).
 */
import { describe } from "vitest";
import { createOutbox, type Outbox, OutboxConfigSchema } from "../../../agent/outbox/index.ts";
import { createUplink, UplinkConfigSchema } from "../../../agent/uplink/index.ts";
import { lifecycleContract } from "../../support/lifecycle-contract.ts";
import { waitFor } from "../../support/wait.ts";
import { startBroker, telemetryBody, tempDir } from "./support.ts";

const TRUCK = "LIFE-AGENT-1";

async function levelOutbox(options: {
  commitIntervalMs: number;
}): Promise<{ outbox: Outbox; cleanup(): Promise<void> }> {
  const tmp = await tempDir("fleetsync-lifecycle-");
  const outbox = createOutbox(OutboxConfigSchema.parse({ dir: tmp.dir, sync: false, ...options }), { truckId: TRUCK });
  return {
    outbox,
    cleanup: async () => {
      await outbox.stop();
      await tmp.cleanup();
    },
  };
}

describe("agent outbox (LevelDB on disk)", () => {
  lifecycleContract(async () => {
    // A commit interval far beyond the test: the appends are still in the write buffer when stop() comes.
    const { outbox, cleanup } = await levelOutbox({ commitIntervalMs: 60_000 });
    return {
      component: outbox,
      busy: async () => {
        const appended = Array.from({ length: 500 }, (_, i) => outbox.append("telemetry", telemetryBody(i)));
        return { settled: Promise.all(appended) };
      },
      call: () => outbox.append("telemetry", telemetryBody(0)),
      cleanup,
    };
  });
});

describe("agent uplink (MQTT.js against Aedes over TCP)", () => {
  lifecycleContract(async () => {
    // PUBACKs held back a while, so a batch is in flight when stop() comes; stop waits for it (stopTimeoutMs).
    const broker = await startBroker({ delayMs: 300 });
    const { outbox, cleanup } = await levelOutbox({ commitIntervalMs: 10 });
    await outbox.start();
    const uplink = createUplink(
      UplinkConfigSchema.parse({
        url: `mqtt://127.0.0.1:${broker.port}`,
        protocolVersion: 4,
        reconnectMinMs: 50,
        reconnectMaxMs: 300,
        stopTimeoutMs: 10_000,
      }),
      { truckId: TRUCK, outbox, status: () => ({ agentVersion: "0.0.0-test", bootId: "boot-test" }) },
    );
    return {
      component: uplink,
      busy: async () => {
        await uplink.whenConnected();
        await Promise.all(Array.from({ length: 50 }, (_, i) => outbox.append("telemetry", telemetryBody(i))));
        await waitFor(() => broker.received.telemetry.length > 0, "a batch at the broker, its PUBACK held back");
        return {
          settled: waitFor(() => uplink.stats().recordsAcked > 0, "the batch in flight acknowledged", {
            timeoutMs: 20_000,
          }),
        };
      },
      call: () => uplink.whenConnected(),
      cleanup: async () => {
        await cleanup();
        await broker.close();
      },
    };
  });
});
