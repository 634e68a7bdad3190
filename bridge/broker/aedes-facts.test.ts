/**
 * The Aedes 1.x facts the bridge's design rests on, pinned against the installed engine (real Aedes over loopback
 * TCP, a real MQTT.js client): a QoS 1 PUBACK leaves before the `published` hook runs, and only authorizePublish
 * holds it back (design, promise 1). If an Aedes upgrade changes either, these fail before any data is lost.
 */
import { createServer } from "node:net";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import { pubackWithin } from "../../test/support/wait.ts";

async function plainAedes(hooks: ConstructorParameters<typeof Aedes>[0]) {
  const broker = new Aedes(hooks);
  await broker.listen();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
  return {
    client,
    async close() {
      await client.endAsync(true);
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("Aedes 1.x: where the QoS 1 acknowledgement really is", () => {
  it("sends the PUBACK before `published` completes, so forwarding there cannot hold it", async () => {
    let publishedCalled = false;
    const aedes = await plainAedes({
      published(packet, _client, callback) {
        if (packet.topic !== "t") return callback();
        publishedCalled = true; // never calls back: a Kafka write that never finishes
      },
    });
    try {
      await aedes.client.publishAsync("t", "x", { qos: 1 });
      expect(publishedCalled).toBe(true);
    } finally {
      await aedes.close();
    }
  });

  it("withholds the PUBACK while authorizePublish has not called back", async () => {
    let release: (() => void) | undefined;
    const aedes = await plainAedes({
      authorizePublish(_client, _packet, callback) {
        release = () => callback(null);
      },
    });
    try {
      const ack = aedes.client.publishAsync("t", "x", { qos: 1 });
      expect(await pubackWithin(ack, 500)).toBe("none");
      expect(release).toBeDefined();
      release!();
      expect(await pubackWithin(ack, 5_000)).toBe("puback");
    } finally {
      await aedes.close();
    }
  });
});
