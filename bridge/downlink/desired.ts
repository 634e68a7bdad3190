/**
 * The latest desired config per truck, as fleet.config says it: bounded (maxTrucks keys, each value at most
 * REMOTE_CONFIG_MAX_BYTES), kept as strings because a kafkajs message value is a view into the whole fetch response
 * and keeping it would keep megabytes per truck alive; a one-byte V8 string costs its length plus a small header.
 */
import { REMOTE_CONFIG_MAX_BYTES } from "../../protocol/remote-config.ts";

export type DesiredUpdate =
  { kind: "set" | "removed" | "unchanged" } | { kind: "refused"; reason: "too-large" | "full" };

export class DesiredConfigs {
  readonly #configs = new Map<string, string>();
  readonly #maxTrucks: number;

  constructor(maxTrucks: number) {
    this.#maxTrucks = maxTrucks;
  }

  get size(): number {
    return this.#configs.size;
  }

  get(truckId: string): string | undefined {
    return this.#configs.get(truckId);
  }

  /** A fleet.config record: null value = tombstone (the override is removed). */
  apply(truckId: string, value: Buffer | null): DesiredUpdate {
    if (value === null || value.length === 0) {
      return this.#configs.delete(truckId) ? { kind: "removed" } : { kind: "unchanged" };
    }
    if (value.length > REMOTE_CONFIG_MAX_BYTES) return { kind: "refused", reason: "too-large" };
    // A fresh string, not a view: the fetch response it came from can be collected.
    const text = value.toString("utf8");
    const known = this.#configs.get(truckId);
    if (known === text) return { kind: "unchanged" };
    if (known === undefined && this.#configs.size >= this.#maxTrucks) return { kind: "refused", reason: "full" };
    this.#configs.set(truckId, text);
    return { kind: "set" };
  }
}
