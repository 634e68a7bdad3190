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
  /** Starts cutting: every `minMs`..`maxMs` each open connection is cut with probability `p`. */
  startCutting(options: { minMs: number; maxMs: number; p: number }): void;
  stopCutting(): void;
  stats(): ProxyStats;
  close(): Promise<void>;
}

export async function startCuttingProxy(targetPort: number, seed: string | number): Promise<CuttingProxy> {
  const prng = createPrng(seed);
  const pairs = new Set<[Socket, Socket]>();
  const stats = { accepted: 0, cut: 0 };
  let timer: NodeJS.Timeout | undefined;

  const server: Server = createServer((client) => {
    stats.accepted++;
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
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
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
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
