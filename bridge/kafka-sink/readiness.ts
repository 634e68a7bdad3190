/**
 * The sink's readiness (/readyz: ready = Kafka reachable and every topic there): from the last batch's outcome
 * when one is recent, otherwise from a probe of the cluster.
 */
const READY_FRESH_MS = 5_000;

export interface SinkHealth {
  /** Can deliver now: Kafka answers, the last batch did not fail, and every topic exists. */
  ready: boolean;
  /** Why not ready. */
  reasons: string[];
  /** Things operators must know although delivery works (partition count changes). */
  notes: string[];
}

export interface Readiness {
  /** Kafka answered (a batch was delivered, or a connect succeeded). */
  ok(): void;
  failed(message: string): void;
  /** `probe` asks Kafka whether it answers (bounded by the caller); run only when nothing was delivered recently. */
  health(reasons: string[], notes: string[], probe: () => Promise<unknown>): Promise<SinkHealth>;
}

export function createReadiness(): Readiness {
  let lastOkAt = 0;
  let lastProbeOkAt = 0;
  let lastErrorAt = 0;
  let lastError = "";
  return {
    ok() {
      lastOkAt = Date.now();
    },
    failed(message) {
      lastErrorAt = Date.now();
      lastError = message;
    },
    async health(missing, notes, probe) {
      const reasons = [...missing];
      if (lastErrorAt > lastOkAt) reasons.push(`the last Kafka batch failed: ${lastError}`);
      else if (Date.now() - Math.max(lastOkAt, lastProbeOkAt) >= READY_FRESH_MS) {
        // Nothing delivered recently: ask Kafka now.
        try {
          await probe();
          lastProbeOkAt = Date.now();
        } catch (error) {
          reasons.push(`Kafka unreachable: ${(error as Error).message}`);
        }
      }
      return { ready: reasons.length === 0, reasons, notes };
    },
  };
}
