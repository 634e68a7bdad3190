/**
 * The load generator's MQTT connection: just what a publishing truck needs (CONNECT, QoS 1 PUBLISH, PUBACK, PINGREQ,
 * DISCONNECT), on a raw socket, with no streams, stores or timers of its own.
 *
 * Why not MQTT.js here: the generator runs on the same cores as the broker it measures (issue 21). With one MQTT.js
 * client per truck it spent more CPU per record than plain Aedes spends handling it (76-109 µs vs 40), so a large
 * fleet measured the generator as much as the broker. This connection frames packets by hand (MQTT 3.1.1 section
 * 2 and MQTT 5 section 2: fixed header, variable-length "remaining length", packet id) and writes each PUBLISH in one
 * buffer; the topic's bytes are encoded once per truck. The CONNECT packet, sent once per connection, is made by
 * mqtt-packet's generator. The agent keeps MQTT.js: this is a measuring tool, not a truck.
 */
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import mqttPacket from "mqtt-packet";
import { FleetError } from "../../common/errors.ts";

export interface LeanConnectOptions {
  url: URL;
  /** Local address to connect from (mqtt:// only). */
  localAddress?: string;
  protocolVersion: 4 | 5;
  clientId: string;
  username: string;
  password?: string;
  clean: boolean;
  keepaliveS: number;
  /** MQTT 5 session expiry (persistent sessions); omitted when undefined. */
  sessionExpiryS?: number;
  /** No CONNACK within this time: the socket is destroyed and onClose reports it. */
  connectTimeoutMs: number;
}

export interface LeanHandlers {
  onConnect(): void;
  /** A PUBACK; `refused` when its reason code is 0x80 or above (MQTT 5 only: 3.1.1 has no reason code). */
  onAck(packetId: number, refused: boolean): void;
  /** The connection is gone (refused, timed out, closed by either side); called once. */
  onClose(reason: string, wasConnected: boolean): void;
}

/** An MQTT topic as it sits in a PUBLISH: two length bytes, then UTF-8 (MQTT-1.5.3). Encode once per topic. */
export function encodeTopic(topic: string): Buffer {
  const bytes = Buffer.from(topic, "utf8");
  const out = Buffer.allocUnsafe(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  bytes.copy(out, 2);
  return out;
}

/** Bytes of a "remaining length" (MQTT-2.2.3: 7 bits per byte, high bit = more follows). */
const varintLength = (n: number) => (n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4);

function writeVarint(buf: Buffer, at: number, n: number): number {
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    buf[at++] = byte;
  } while (n > 0);
  return at;
}

const PINGREQ = Buffer.from([0xc0, 0x00]);
const DISCONNECT = Buffer.from([0xe0, 0x00]);

export class LeanConnection {
  private readonly socket: Socket;
  private readonly v5: boolean;
  private nextId = 1;
  private rest: Buffer | undefined;
  private closed = false;
  private connectTimer: NodeJS.Timeout | undefined;
  /** performance.now() of the last packet written: keepalive pings only when idle. */
  lastSentAt = 0;
  connected = false;

  constructor(
    options: LeanConnectOptions,
    private readonly handlers: LeanHandlers,
  ) {
    const { url } = options;
    this.v5 = options.protocolVersion === 5;
    if (url.protocol === "mqtt:") {
      this.socket = tcpConnect({
        host: url.hostname,
        port: Number(url.port || 1883),
        noDelay: true,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      });
    } else if (url.protocol === "mqtts:") {
      if (options.localAddress)
        throw new FleetError("FLEET_CONFIG_INVALID", "sim load option sourceAddresses: only with an mqtt:// url");
      this.socket = tlsConnect({ host: url.hostname, port: Number(url.port || 8883), servername: url.hostname });
      this.socket.setNoDelay(true);
    } else {
      throw new FleetError("FLEET_CONFIG_INVALID", `sim load option url: ${url.protocol} is not mqtt: or mqtts:`);
    }
    this.write(
      mqttPacket.generate(
        {
          cmd: "connect",
          protocolId: "MQTT",
          protocolVersion: options.protocolVersion,
          clientId: options.clientId,
          username: options.username,
          ...(options.password === undefined ? {} : { password: Buffer.from(options.password) }),
          clean: options.clean,
          keepalive: options.keepaliveS,
          ...(this.v5 && options.sessionExpiryS !== undefined
            ? { properties: { sessionExpiryInterval: options.sessionExpiryS } }
            : {}),
        },
        { protocolVersion: options.protocolVersion },
      ),
    );
    this.connectTimer = setTimeout(() => this.close("connect timed out"), options.connectTimeoutMs);
    this.connectTimer.unref();
    this.socket.on("data", (chunk: Buffer) => this.read(chunk));
    this.socket.on("error", (error) => this.close(error.message));
    this.socket.on("close", () => this.close("connection closed"));
  }

  /** Sends one QoS 1 PUBLISH (MQTT-3.3) and returns its packet id. */
  publish(topic: Buffer, payload: Uint8Array): number {
    const id = this.nextId;
    this.nextId = id === 65_535 ? 1 : id + 1;
    const remaining = topic.length + 2 + (this.v5 ? 1 : 0) + payload.length;
    const buf = Buffer.allocUnsafe(1 + varintLength(remaining) + remaining);
    buf[0] = 0x32; // PUBLISH, QoS 1, no DUP, no RETAIN
    let at = writeVarint(buf, 1, remaining);
    at += topic.copy(buf, at);
    buf.writeUInt16BE(id, at);
    at += 2;
    if (this.v5) buf[at++] = 0; // no properties
    buf.set(payload, at);
    this.write(buf);
    return id;
  }

  ping(): void {
    this.write(PINGREQ);
  }

  /** A connection lost without a word (a cellular outage): no DISCONNECT, the broker publishes the will. */
  drop(): void {
    this.close("dropped");
  }

  /** A clean end: DISCONNECT, then the socket closes; resolves once it has (or at once if it already had). */
  end(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.socket.once("close", () => resolve()));
    if (this.connected) this.write(DISCONNECT);
    this.socket.end();
    return closed;
  }

  private write(buf: Buffer): void {
    this.lastSentAt = performance.now();
    this.socket.write(buf);
  }

  private close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    const wasConnected = this.connected;
    this.connected = false;
    clearTimeout(this.connectTimer);
    this.socket.destroy();
    this.handlers.onClose(reason, wasConnected);
  }

  /** Frames incoming packets (a read may hold several, or part of one) and handles each. */
  private read(chunk: Buffer): void {
    let buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = undefined;
    while (buf.length >= 2 && !this.closed) {
      let remaining = 0;
      let multiplier = 1;
      let at = 1;
      let complete = false;
      while (at < buf.length && at <= 4) {
        const byte = buf[at++]!;
        remaining += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete && at > 4) return this.close("malformed remaining length from the broker");
      if (!complete || buf.length < at + remaining) break;
      this.handle(buf[0]!, buf.subarray(at, at + remaining));
      buf = buf.subarray(at + remaining);
    }
    if (buf.length > 0 && !this.closed) this.rest = Buffer.from(buf);
  }

  private handle(first: number, body: Buffer): void {
    switch (first >> 4) {
      case 2: {
        // CONNACK: flags, then the return code (3.1.1) or reason code (5); 0 is success.
        const code = body[1] ?? 0xff;
        if (code !== 0) return this.close(`connection refused (code ${code})`);
        clearTimeout(this.connectTimer);
        this.connected = true;
        return this.handlers.onConnect();
      }
      case 4: {
        // PUBACK: packet id, then (MQTT 5, when present) a reason code.
        const refused = body.length > 2 && body[2]! >= 0x80;
        return this.handlers.onAck(body.readUInt16BE(0), refused);
      }
      case 3: {
        // A PUBLISH to us (nothing is subscribed, but a broker may deliver a session's leftovers): QoS 1 is answered.
        if (((first >> 1) & 3) === 1) {
          const id = body.readUInt16BE(2 + body.readUInt16BE(0));
          this.write(Buffer.from([0x40, 0x02, id >> 8, id & 0xff]));
        }
        return;
      }
      case 14:
        return this.close("DISCONNECT from the broker");
      default:
        return; // PINGRESP and anything else: nothing to do
    }
  }
}
