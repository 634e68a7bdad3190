/**
 * The sink's readiness (/readyz: ready = Kafka reachable and every topic there): from the last batch's outcome
 * when one is recent, otherwise from a probe of the cluster.
 */
const READY_FRESH_MS = 5_000;
/**
 * A batch Kafka has not answered for this long means Kafka is not taking records now: below min.insync.replicas a
 * leader holds an acks=all produce until its ISR shrinks or the request times out, and kafkajs retries, so the send
 * neither succeeds nor fails for tens of seconds while a describeCluster probe still answers. Well above a loaded
 * machine's acknowledgement time (p99 5.6 s at load average 30 in bench:bridge).
 */
export const READY_STALL_MS = 10_000;

export interface SinkHealth {
  /** Can deliver now: Kafka answers, the last batch did not fail, and every topic exists. */
  ready: boolean;
  /** Why not ready. */
  reasons: string[];
  /** Things operators must know although delivery works (partition count changes). */
  notes: string[];
}

export interface Readiness {
  /** Kafka took a batch. Only this clears a batch's failure: a reconnect or a probe says nothing of acks=all. */
  ok(): void;
  failed(message: string): void;
  /** A batch goes to Kafka now; call the returned function when it is answered (either way). */
  sending(): () => void;
  /** `probe` asks Kafka whether it answers (bounded by the caller); run only when nothing was delivered recently. */
  health(reasons: string[], notes: string[], probe: () => Promise<unknown>): Promise<SinkHealth>;
}

export function createReadiness(now: () => number = Date.now): Readiness {
  let lastOkAt = 0;
  let lastProbeOkAt = 0;
  let lastErrorAt = 0;
  let lastError = "";
  /** When each batch still waiting for Kafka's answer was sent. */
  const inFlight = new Set<{ at: number }>();
  return {
    ok() {
      lastOkAt = now();
    },
    failed(message) {
      lastErrorAt = now();
      lastError = message;
    },
    sending() {
      const entry = { at: now() };
      inFlight.add(entry);
      return () => inFlight.delete(entry);
    },
    async health(missing, notes, probe) {
      const reasons = [...missing];
      let oldest = Infinity;
      for (const entry of inFlight) oldest = Math.min(oldest, entry.at);
      if (now() - oldest >= READY_STALL_MS) {
        reasons.push(`Kafka has not answered a batch sent ${((now() - oldest) / 1000).toFixed(0)} s ago`);
      } else if (lastErrorAt > lastOkAt) reasons.push(`the last Kafka batch failed: ${lastError}`);
      else if (now() - Math.max(lastOkAt, lastProbeOkAt) >= READY_FRESH_MS) {
        // Nothing delivered recently: ask Kafka now.
        try {
          await probe();
          lastProbeOkAt = now();
        } catch (error) {
          reasons.push(`Kafka unreachable: ${(error as Error).message}`);
        }
      }
      return { ready: reasons.length === 0, reasons, notes };
    },
  };
}
