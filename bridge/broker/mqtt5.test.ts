/**
 * The MQTT 5 adapter (mqtt5.ts) on real sockets: the broker port as the bridge constructs it, real MQTT.js v5
 * clients. Its per-connection state is kept small (issue 21: one CONNACK property set shared by every connection,
 * unsubscribe counts made on a connection's first UNSUBSCRIBE); what v5 clients read from it must not change.
 */
import { createServer } from "node:net";
import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import mqttPacket from "mqtt-packet";
import { createBroker } from "./broker.ts";
import { installMqtt5Writer } from "./mqtt5.ts";

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

/** A broker with the given limits; returns a connect function giving a v5 client and the CONNACK it read. */
async function v5Broker() {
  const broker = createBroker({
    connectTimeoutMs: 5_000,
    mqtt5: { maximumPacketSize: 4_096, receiveMaximum: 7 },
    hooks: {
      authenticate: (_client, _username, _password, done) => done(null, true),
      authorizeSubscribe: (_client, subscription, done) => done(null, subscription),
    },
  });
  await broker.listen();
  const server = createServer((socket) => void broker.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const clients: mqtt.MqttClient[] = [];
  cleanup = async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return (clientId: string) =>
    new Promise<{ client: mqtt.MqttClient; connack: mqtt.IConnackPacket }>((resolve, reject) => {
      const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, reconnectPeriod: 0, clientId });
      clients.push(client);
      client.once("connect", (connack) => resolve({ client, connack }));
      client.once("error", reject);
    });
}

describe("the MQTT 5 adapter", () => {
  it("announces the server's limits in every v5 CONNACK", async () => {
    const connect = await v5Broker();
    for (const id of ["t1", "t2"]) {
      const { connack } = await connect(id);
      expect(connack.reasonCode).toBe(0);
      expect(connack.properties).toMatchObject({ maximumPacketSize: 4_096, receiveMaximum: 7, topicAliasMaximum: 0 });
    }
  });

  it("answers an UNSUBSCRIBE of several topics with one reason code per topic", async () => {
    const { client } = await (await v5Broker())("t1");
    await client.subscribeAsync(["a", "b", "c"], { qos: 0 });
    for (const topics of [["a", "b", "c"], ["a"]]) {
      const unsuback = await new Promise<unknown>((resolve, reject) =>
        client.unsubscribe(topics, (error, packet) => (error ? reject(error) : resolve(packet))),
      );
      expect((unsuback as { granted?: number[] }).granted).toEqual(topics.map(() => 0));
    }
  });

  it("writes each PUBACK as one 4-byte write with mqtt-packet's own bytes, v3.1.1 and v5 alike", () => {
    installMqtt5Writer();
    const v5 = { [Symbol.for("fleetsync.bridge.mqtt5")]: { connackProperties: {}, unsubscribeCounts: undefined } };
    for (const messageId of [1, 2, 255, 256, 4_097, 65_535]) {
      for (const [version, marks] of [
        [4, {}],
        [5, v5],
      ] as const) {
        const writes: Buffer[] = [];
        let corked = 0;
        const stream = {
          ...marks,
          write: (chunk: Buffer) => writes.push(Buffer.from(chunk)) > 0,
          cork: () => corked++,
        };
        expect(mqttPacket.writeToStream({ cmd: "puback", messageId }, stream as never)).toBe(true);
        const expected = mqttPacket.generate({ cmd: "puback", messageId, reasonCode: 0 }, { protocolVersion: version });
        expect({ messageId, version, writes: writes.length, corked }).toEqual({
          messageId,
          version,
          writes: 1,
          corked: 0,
        });
        expect(writes[0]!.equals(expected)).toBe(true);
      }
    }
    // A v5 PUBACK with a reason code still goes through mqtt-packet, which writes it.
    const writes: Buffer[] = [];
    const stream = { ...v5, write: (chunk: Buffer) => writes.push(Buffer.from(chunk)) > 0 };
    mqttPacket.writeToStream({ cmd: "puback", messageId: 9, reasonCode: 0x10 } as never, stream as never);
    const expected = mqttPacket.generate({ cmd: "puback", messageId: 9, reasonCode: 0x10 }, { protocolVersion: 5 });
    expect(Buffer.concat(writes).equals(expected)).toBe(true);
  });
});
