/**
 * The one lifecycle every long-lived FleetSync component shares (conventions, 6), and its one behaviour:
 * - start() runs once. A second start(), while starting, running or after stop(), rejects with FLEET_CLOSED: a
 *   component is started by exactly one owner, and a second start is a wiring bug to surface, not to absorb.
 * - stop() is idempotent: every call returns the same promise. It may come before start() (it releases what the
 *   constructor made) or during it (it waits for the start to settle, then stops).
 * - Any other operation after stop() fails fast with FLEET_CLOSED (components call `ensureOpen()`).
 * test/support/lifecycle-contract.ts is the one test every component runs against this.
 */
import { FleetError } from "./errors.ts";

/** The lifecycle every long-lived component shares. stop() is idempotent and clears its timers. */
export interface Lifecycle {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export type LifecycleState = "new" | "starting" | "running" | "failed" | "stopping" | "stopped";

export class LifecycleGuard {
  private current: LifecycleState = "new";
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(readonly name: string) {}

  get state(): LifecycleState {
    return this.current;
  }

  /** True once stop() was called. */
  get closed(): boolean {
    return this.stopping !== undefined;
  }

  /** Runs `body` as the one start; FLEET_CLOSED when started before or stopped. */
  start(body: () => Promise<void>): Promise<void> {
    if (this.current !== "new") {
      const why = this.closed ? "is stopped" : "was already started";
      return Promise.reject(
        new FleetError("FLEET_CLOSED", `${this.name} ${why}`, { details: { state: this.current } }),
      );
    }
    this.current = "starting";
    this.starting = (async () => {
      try {
        await body();
        if (this.current === "starting") this.current = "running";
      } catch (error) {
        if (this.current === "starting") this.current = "failed";
        throw error;
      }
    })();
    return this.starting;
  }

  /** Runs `body` once, after a start in progress settled; later calls get the same promise. */
  stop(body: () => Promise<void>): Promise<void> {
    this.stopping ??= (async () => {
      this.current = "stopping";
      await this.starting?.catch(() => undefined);
      this.current = "stopping";
      try {
        await body();
      } finally {
        this.current = "stopped";
      }
    })();
    return this.stopping;
  }

  /** Throws FLEET_CLOSED once stop() was called: `what` is the operation refused. */
  ensureOpen(what: string): void {
    if (this.closed) throw new FleetError("FLEET_CLOSED", `${this.name} is stopped: ${what} refused`);
  }
}
