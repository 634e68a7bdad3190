/**
 * The lifecycle contract (common/lifecycle.ts) as one test suite that every long-lived component runs: start
 * twice, stop twice, start after stop, a call after stop, and stop while busy. Test-only (imports vitest): it lives
 * under test/, which is never built into dist/ or the .deb.
 */
import { afterEach, expect, it } from "vitest";
import { isFleetError } from "../../common/errors.ts";
import type { Lifecycle } from "../../common/lifecycle.ts";

export interface LifecycleSubject {
  component: Lifecycle;
  /**
   * Starts work and resolves once it is in progress (`inProgress`); `settled` ends when the work ends, delivered or
   * refused.
   */
  busy?: () => Promise<{ settled: Promise<unknown> }>;
  /** Any operation of the component other than start/stop, to check it is refused after stop(). */
  call?: () => Promise<unknown> | unknown;
  /** Releases what the test made besides the component (servers, peers). */
  cleanup?: () => Promise<void>;
}

/** How long a stop of a busy component may take here: generous, the check is that it ends, not how fast. */
const STOP_WITHIN_MS = 20_000;

async function rejection(run: () => Promise<unknown> | unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  return undefined;
}

/**
 * Registers the contract's tests. The last two need the subject's `call` / `busy`: say which ones this component
 * has (`has`), so a component without any other operation does not show a skipped test.
 */
export function lifecycleContract(
  make: () => LifecycleSubject | Promise<LifecycleSubject>,
  has: { call?: boolean; busy?: boolean } = { call: true, busy: true },
): void {
  const made: LifecycleSubject[] = [];
  const subject = async () => {
    const s = await make();
    made.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of made.splice(0)) {
      await s.component.stop();
      await s.cleanup?.();
    }
  });

  it("lifecycle: a second start() fails fast with FLEET_CLOSED and leaves the first one running", async () => {
    const { component } = await subject();
    await component.start();
    expect(isFleetError(await rejection(() => component.start()), "FLEET_CLOSED")).toBe(true);
  });

  it("lifecycle: stop() twice is one stop (both resolve), and start() after stop() fails with FLEET_CLOSED", async () => {
    const { component } = await subject();
    await component.start();
    const first = component.stop();
    const second = component.stop();
    await Promise.all([first, second]);
    await component.stop();
    expect(isFleetError(await rejection(() => component.start()), "FLEET_CLOSED")).toBe(true);
  });

  it("lifecycle: stop() before start() resolves, and the component cannot be started afterwards", async () => {
    const { component } = await subject();
    await component.stop();
    expect(isFleetError(await rejection(() => component.start()), "FLEET_CLOSED")).toBe(true);
  });

  if (has.call)
    it("lifecycle: an operation after stop() fails fast with FLEET_CLOSED", async () => {
      const s = await subject();
      if (!s.call) throw new Error("the subject has no call()");
      await s.component.start();
      await s.component.stop();
      expect(isFleetError(await rejection(s.call), "FLEET_CLOSED")).toBe(true);
    });

  if (has.busy)
    it("lifecycle: stop() while busy ends, and the work in hand settles (finished or refused, never hanging)", async () => {
      const s = await subject();
      if (!s.busy) throw new Error("the subject has no busy()");
      await s.component.start();
      const { settled } = await s.busy();
      const work = settled.then(
        () => "settled",
        () => "settled",
      );
      const stopped = s.component.stop().then(() => "stopped");
      const timeout = new Promise((resolve) => setTimeout(() => resolve("timed out"), STOP_WITHIN_MS).unref());
      expect(await Promise.race([stopped, timeout])).toBe("stopped");
      expect(await Promise.race([work, timeout])).toBe("settled");
    });
}
