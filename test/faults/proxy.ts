/**
 * A TCP proxy between the agents and the bridge that cuts connections at random: what a truck's cellular link does
 * (tower handover, NAT timeout, tunnel). Both sides of a cut pair are destroyed at once, mid-packet if need be, so
 * the agent sees its socket close and the bridge sees its client vanish, with publishes and PUBACKs in flight.
 * Seeded, so a failing run can be replayed.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { createPrng } from "../../sim/index.ts";

export interface ProxyStats {
  accepted: number;
  cut: number;
  open: number;
}

export interface CuttingProxy {
  readonly port: number;
  /**
   * A network partition, not a reset: open connections stop carrying bytes (nothing is closed, nothing is
   * refused) and new ones are accepted but never reach the target, as when a link silently drops packets.
   */
  partition(): void;
  /** Ends the partition: the connections it froze are closed (they would have timed out), new ones pass again. */
  heal(): void;
  /**
   * Requests still reach the target but its answers are thrown away, on open and new connections: the server did
   * the work, the client never hears so (a response lost to a cut link). unmute() closes those connections.
   */
  mute(): void;
  unmute(): void;
  /** Starts cutting: every `minMs`..`maxMs` each open connection is cut with probability `p`. */
  startCutting(options: { minMs: number; maxMs: number; p: number }): void;
  stopCutting(): void;
  stats(): ProxyStats;
  close(): Promise<void>;
}

export async function startCuttingProxy(
  targetPort: number,
  seed: string | number,
  options: { port?: number } = {},
): Promise<CuttingProxy> {
  const prng = createPrng(seed);
  const pairs = new Set<[Socket, Socket]>();
  const stats = { accepted: 0, cut: 0 };
  let timer: NodeJS.Timeout | undefined;
  /** Sockets a partition froze or swallowed; closed when it heals. */
  let frozen: Socket[] | undefined;
  /** Pairs whose answers are being thrown away; closed on unmute. */
  let muted: Set<[Socket, Socket]> | undefined;
  const silence = (pair: [Socket, Socket]) => {
    pair[1].unpipe(pair[0]);
    pair[1].on("data", () => undefined);
    muted!.add(pair);
  };

  const server: Server = createServer((client) => {
    stats.accepted++;
    if (frozen) {
      client.on("error", () => undefined);
      frozen.push(client);
      return;
    }
    const upstream = tcpConnect(targetPort, "127.0.0.1");
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of pair) {
      s.setNoDelay(true);
      s.on("error", end);
      s.on("close", end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    if (muted) silence(pair);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  function schedule(options: { minMs: number; maxMs: number; p: number }): void {
    timer = setTimeout(
      () => {
        for (const pair of [...pairs]) {
          if (!prng.chance(options.p)) continue;
          stats.cut++;
          pairs.delete(pair);
          pair[0].destroy();
          pair[1].destroy();
        }
        schedule(options);
      },
      prng.range(options.minMs, options.maxMs),
    );
    timer.unref();
  }

  return {
    port,
    partition() {
      if (frozen) return;
      frozen = [];
      for (const pair of pairs) {
        for (const s of pair) {
          s.unpipe();
          s.pause();
          frozen.push(s);
        }
      }
      pairs.clear();
    },
    heal() {
      for (const s of frozen ?? []) s.destroy();
      frozen = undefined;
    },
    mute() {
      if (muted) return;
      muted = new Set();
      for (const pair of pairs) silence(pair);
    },
    unmute() {
      for (const [a, b] of muted ?? []) {
        a.destroy();
        b.destroy();
      }
      muted = undefined;
    },
    startCutting(options) {
      if (!timer) schedule(options);
    },
    stopCutting() {
      clearTimeout(timer);
      timer = undefined;
    },
    stats: () => ({ ...stats, open: pairs.size }),
    async close() {
      clearTimeout(timer);
      timer = undefined;
      for (const s of frozen ?? []) s.destroy();
      frozen = undefined;
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
