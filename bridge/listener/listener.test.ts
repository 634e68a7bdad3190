/**
 * The listener's own logic against a broker double (bridge/broker's `Broker` port): admission, the connection cap,
 * the pre-login byte limits and the packet-size guard, on real loopback sockets but without Aedes. The same
 * paths with the real broker are in test/integration/bridge/security.test.ts and prelogin.test.ts.
 */
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../common/log.ts";
import { lifecycleContract } from "../../test/support/lifecycle-contract.ts";
import { fixedHeader } from "../../test/support/mqtt-bytes.ts";
import { waitFor } from "../../test/support/wait.ts";
import { holdPort, inUse } from "../../test/support/held-port.ts";
import { isFleetError } from "../../common/errors.ts";
import { SourceLimiter } from "../auth/limiter.ts";
import type { Broker, ReadGuard } from "../broker/broker.ts";
import { ListenerConfigSchema } from "./config.ts";
import { type ConnectionRefusal, createListener, type Listener } from "./listener.ts";

/** Records what the listener hands the broker; `feed` plays a socket read through the guard, as the broker does. */
function brokerDouble() {
  const served: { socket: Duplex; guard: ReadGuard | undefined; login(): void; parsed: Buffer[] }[] = [];
  const broker: Pick<Broker, "handle"> = {
    handle(socket, guard) {
      const entry = { socket, guard, parsed: [] as Buffer[], login: (): void => undefined };
      const logins: (() => void)[] = [];
      entry.login = () => logins.splice(0).forEach((run) => run());
      socket.on("data", (chunk: Buffer) => {
        if (!guard || guard.admit(chunk)) entry.parsed.push(chunk);
      });
      served.push(entry);
      return { clientId: undefined, onLogin: (run) => void logins.push(run) };
    },
  };
  return { broker, served };
}

function limiter() {
  return new SourceLimiter({
    connectionsPerSecond: 10_000,
    maxAuthFailures: 5,
    maxAuthFailuresPerSource: 50,
    failureWindowMs: 60_000,
    blockMs: 60_000,
    maxTrackedSources: 1_000,
  });
}

function listenerWith(options: Record<string, unknown> = {}) {
  const { broker, served } = brokerDouble();
  const refused: ConnectionRefusal[] = [];
  const preLogin: number[] = [];
  const listener = createListener(ListenerConfigSchema.parse({ tcp: { host: "127.0.0.1", port: 0 }, ...options }), {
    broker,
    limiter: limiter(),
    logger: silentLogger,
    onRefused: (reason) => refused.push(reason),
    onPreLoginBytes: (bytes) => preLogin.push(bytes),
  });
  return { listener, served, refused, preLogin };
}

const sockets: Socket[] = [];
const listeners: Listener[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const l of listeners.splice(0)) await l.stop();
});

async function open(listener: Listener): Promise<Socket> {
  const socket = connect(listener.address("tcp")!.port, "127.0.0.1");
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  return socket;
}

const closed = (socket: Socket) =>
  new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once("close", () => resolve())));

/** A QoS 1 PUBLISH fixed header announcing `remaining` bytes. */
const publishHeader = (remaining: number) => fixedHeader(0x32, remaining);

describe("listener (broker double)", () => {
  lifecycleContract(
    () => {
      const { listener, served } = listenerWith();
      return {
        component: listener,
        // A connection in the middle of its CONNECT when the listener stops: stop() ends; the bridge closes it.
        busy: async () => {
          const socket = await open(listener);
          socket.write(publishHeader(100).subarray(0, 1));
          await waitFor(() => served.length === 1, "the connection to be served");
          return { settled: new Promise<void>((resolve) => socket.end(resolve)) };
        },
      };
    },
    { busy: true },
  );

  it("a port in use is a FLEET_CONFIG_INVALID naming listener.tcp.port and the address, not Node's bare error", async () => {
    const held = await holdPort();
    try {
      const { listener } = listenerWith({ tcp: { host: "127.0.0.1", port: held.port } });
      listeners.push(listener);
      const error = await listener.start().catch((e: unknown) => e);
      expect(isFleetError(error, "FLEET_CONFIG_INVALID")).toBe(true);
      expect((error as Error).message).toBe(inUse("listener.tcp.port", held.port));
    } finally {
      await held.release();
    }
  });

  it("hands an admitted socket to the broker with a guard, and passes packets within maxPacketBytes", async () => {
    const { listener, served } = listenerWith({ maxPacketBytes: 1_024 });
    listeners.push(listener);
    await listener.start();
    const socket = await open(listener);
    socket.write(Buffer.concat([publishHeader(10), Buffer.alloc(10)]));
    const entry = await waitFor(() => served[0]?.parsed.length === 1 && served[0], "the packet to reach the parser");
    expect(entry.guard).toBeDefined();
  });

  it("closes a connection whose packet announces more than maxPacketBytes before any of it is parsed", async () => {
    const { listener, served, refused } = listenerWith({ maxPacketBytes: 1_024 });
    listeners.push(listener);
    await listener.start();
    const socket = await open(listener);
    socket.write(publishHeader(5_000));
    await closed(socket);
    expect(refused).toEqual(["packet-size"]);
    expect(served[0]?.parsed).toEqual([]);
  });

  it("counts bytes before login against maxPreLoginBytes, and gives them back to the shared budget at login", async () => {
    const { listener, served, refused, preLogin } = listenerWith({ maxPreLoginBytes: 1_024 });
    listeners.push(listener);
    await listener.start();
    const first = await open(listener);
    first.write(Buffer.concat([publishHeader(30), Buffer.alloc(30)]));
    await waitFor(() => preLogin.at(-1) === 32, "32 pre-login bytes to be held");
    served[0]!.login();
    expect(preLogin.at(-1)).toBe(0);
    // After login the cap no longer applies to this connection.
    first.write(Buffer.concat([publishHeader(100), Buffer.alloc(100)]));
    await waitFor(() => served[0]!.parsed.length === 2, "the post-login packet to be parsed");

    const second = await open(listener);
    second.write(Buffer.concat([publishHeader(1_100), Buffer.alloc(1_100)]));
    await closed(second);
    expect(refused).toEqual(["pre-login-bytes"]);
  });

  it("refuses connections beyond maxConnections before the broker sees them", async () => {
    const { listener, served, refused } = listenerWith({ maxConnections: 1 });
    listeners.push(listener);
    await listener.start();
    await open(listener);
    const extra = await open(listener);
    await closed(extra);
    expect(refused).toEqual(["capacity"]);
    expect(served).toHaveLength(1);
  });
});
