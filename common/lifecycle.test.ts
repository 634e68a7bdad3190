import { describe } from "vitest";
import { lifecycleContract } from "../test/support/lifecycle-contract.ts";
import { type Lifecycle, LifecycleGuard } from "./lifecycle.ts";

/** The guard itself, around a component whose work takes a while: the contract every component runs. */
function component(): Lifecycle & { work(): Promise<void> } {
  const guard = new LifecycleGuard("test component");
  const pending = new Set<() => void>();
  return {
    start: () => guard.start(async () => undefined),
    stop: () =>
      guard.stop(async () => {
        for (const finish of pending) finish();
      }),
    work() {
      guard.ensureOpen("work");
      return new Promise<void>((resolve) => pending.add(resolve));
    },
  };
}

describe("LifecycleGuard", () => {
  lifecycleContract(() => {
    const c = component();
    return { component: c, busy: async () => ({ settled: c.work() }), call: () => c.work() };
  });
});
