/**
 * MQTT 5 for Aedes 1.x, which speaks only 3.1 and 3.1.1: its CONNECT handler refuses protocol version 5
 * ("unacceptable protocol version", node_modules/aedes/lib/handlers/connect.js) and it writes every packet with
 * mqtt-packet's 3.1.1 encoder. The design promises MQTT 5 (request/response confirmation, `mosquitto_pub -V
 * mqttv5`), so the bridge adapts both ends for clients that connect with version 5:
 *
 * - reading: the connection's mqtt-packet parser already parses v5 packets (it switches on the CONNECT's version);
 *   preConnect keeps it in v5 mode and shows Aedes version 4, which Aedes' handlers treat the same way.
 * - writing: Aedes writes through mqtt-packet's `writeToStream(packet, stream)` without options. The bridge wraps
 *   that function once: for a stream marked as v5 it passes `{ protocolVersion: 5 }` and fills in what v5 needs
 *   (CONNACK reason code and properties, reason codes on acks, UNSUBACK reason codes). Callers that pass their own
 *   options (MQTT.js) are untouched. A plain PUBACK, v5 or not, is written there as one 4-byte write (pubackBytes).
 *
 * What stays 3.1.1 semantics: session expiry (clean start is treated as clean session), will delay, topic aliases
 * (the CONNACK announces Topic Alias Maximum 0, so clients send none), server-side PUBACK reason codes.
 */
import type { Client, ConnectPacket } from "aedes";
import mqttPacket from "mqtt-packet";

const V5 = Symbol.for("fleetsync.bridge.mqtt5");

export interface Mqtt5ServerProperties {
  /** MQTT 5 section 3.2.2.3.6: the largest packet the server accepts. */
  maximumPacketSize: number;
  /** MQTT 5 section 3.2.2.3.3: QoS 1/2 publishes a client may have unacknowledged at once. */
  receiveMaximum: number;
}

/**
 * One v5 connection's state. Kept small, as every connected truck has one (issue 21): the CONNACK's properties are
 * the server's, shared by all; the unsubscribe counts are made on a connection's first UNSUBSCRIBE.
 */
interface V5State {
  connackProperties: Record<string, unknown>;
  unsubscribeCounts: Map<number, number> | undefined;
}

type Writable = { [V5]?: V5State };
type WriteToStream = typeof mqttPacket.writeToStream;
type AnyPacket = Record<string, unknown> & { cmd: string; messageId?: number };

/** MQTT 3.1.1 CONNACK return code -> MQTT 5 reason code (section 3.2.2.2). */
const CONNACK_REASON: Record<number, number> = { 0: 0x00, 1: 0x84, 2: 0x85, 3: 0x88, 4: 0x86, 5: 0x87, 6: 0x87 };

let installed = false;

/** Wraps mqtt-packet's writer (once per process). Safe to call repeatedly. */
export function installMqtt5Writer(): void {
  if (installed) return;
  installed = true;
  const original: WriteToStream = mqttPacket.writeToStream;
  const wrapped = ((packet, stream, opts) => {
    if (opts !== undefined) return original(packet, stream, opts);
    const state = (stream as Writable)[V5];
    const fast = pubackBytes(packet as unknown as AnyPacket, state !== undefined);
    if (fast) {
      stream.write(fast);
      return true; // as mqtt-packet's own confirmation() answers: Aedes never waits for a PUBACK to drain
    }
    if (!state) return original(packet, stream, opts);
    return original(toV5(packet as unknown as AnyPacket, state) as never, stream, { protocolVersion: 5 });
  }) as WriteToStream;
  Object.defineProperty(wrapped, "cacheNumbers", {
    get: () => original.cacheNumbers,
    set: (value: boolean) => {
      original.cacheNumbers = value;
    },
  });
  mqttPacket.writeToStream = wrapped;
}

/**
 * A PUBACK as one 4-byte write: every record a truck sends ends in one (issue 21). mqtt-packet writes it as three
 * chunks (header, length, packet id) into a corked socket, uncorked on the next tick: three buffers, a nextTick and
 * a writev per PUBACK, several microseconds of the bridge's CPU per record under fleet load. The bytes are the ones
 * mqtt-packet writes (mqtt5.test.ts compares them): 0x40, remaining length 2, the packet id; in MQTT 5 a reason code
 * of 0 (success) without properties is left out the same way (section 3.4.2.1). Anything else takes mqtt-packet.
 */
function pubackBytes(packet: AnyPacket, v5: boolean): Buffer | undefined {
  if (packet.cmd !== "puback") return undefined;
  const id = packet.messageId;
  if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id > 0xffff) return undefined;
  if (v5 && ((packet.reasonCode !== undefined && packet.reasonCode !== 0) || packet.properties !== undefined)) {
    return undefined;
  }
  const bytes = Buffer.allocUnsafe(4);
  bytes[0] = 0x40;
  bytes[1] = 2;
  bytes[2] = id >>> 8;
  bytes[3] = id & 0xff;
  return bytes;
}

function toV5(packet: AnyPacket, state: V5State): AnyPacket {
  switch (packet.cmd) {
    case "connack": {
      const returnCode = Number(packet.returnCode ?? 0);
      return {
        cmd: "connack",
        sessionPresent: packet.sessionPresent,
        reasonCode: CONNACK_REASON[returnCode] ?? 0x80,
        ...(returnCode === 0 ? { properties: state.connackProperties } : {}),
      };
    }
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return { ...packet, reasonCode: packet.reasonCode ?? 0 };
    case "suback":
      // 0x80 in 3.1.1 is "failure"; in MQTT 5 the ACL refusal is 0x87 Not authorized.
      return { ...packet, granted: (packet.granted as number[]).map((code) => (code === 0x80 ? 0x87 : code)) };
    case "unsuback": {
      const count = state.unsubscribeCounts?.get(packet.messageId ?? -1) ?? 1;
      state.unsubscribeCounts?.delete(packet.messageId ?? -1);
      return { ...packet, granted: new Array(count).fill(0) };
    }
    default:
      return packet;
  }
}

interface ParserLike {
  settings: { protocolVersion?: number };
  on(event: "packet", listener: (this: ParserLike, packet: AnyPacket) => void): void;
  [V5]?: V5State;
}

/** The parser's "packet" listener of every v5 connection (one function, the state on the parser). */
function countUnsubscribes(this: ParserLike, incoming: AnyPacket): void {
  const state = this[V5];
  if (!state || incoming.cmd !== "unsubscribe" || typeof incoming.messageId !== "number") return;
  const counts = (state.unsubscribeCounts ??= new Map());
  const topics = incoming.unsubscriptions as unknown[] | undefined;
  if (counts.size < 64) counts.set(incoming.messageId, topics?.length ?? 1);
}

/**
 * Returns what preConnect calls, synchronously, before Aedes looks at the version: for a v5 CONNECT it marks the
 * connection as v5 and lets Aedes accept it. A no-op for 3.1 / 3.1.1 clients.
 */
export function mqtt5Acceptor(server: Mqtt5ServerProperties): (client: Client, packet: ConnectPacket) => void {
  const connackProperties = {
    maximumPacketSize: server.maximumPacketSize,
    receiveMaximum: server.receiveMaximum,
    topicAliasMaximum: 0,
    wildcardSubscriptionAvailable: false,
    sharedSubscriptionAvailable: false,
  };
  return (client, packet) => {
    if (packet.protocolVersion !== 5) return;
    const parser = (client as unknown as { _parser: ParserLike })._parser;
    // The parser adopted the CONNECT packet as its settings; give it its own, so the change below does not reach it.
    parser.settings = { protocolVersion: 5 };
    (packet as { protocolVersion: number }).protocolVersion = 4;
    const state: V5State = { connackProperties, unsubscribeCounts: undefined };
    parser[V5] = state;
    parser.on("packet", countUnsubscribes);
    (client.conn as unknown as Writable)[V5] = state;
  };
}

export function isMqtt5(client: Client): boolean {
  return (client.conn as unknown as Writable)[V5] !== undefined;
}
