/** Clean-up for test files that start processes and services as they go (the detect end-to-end tests). */
import { afterAll } from "vitest";

/**
 * A list to push clean-up steps onto as things are started; after the file's tests they run last-started first, each
 * best effort, so a step that fails neither skips the others nor hides the tests' own result.
 */
export function cleanupAfterAll(): (() => Promise<unknown>)[] {
  const steps: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const step of steps.reverse()) await step().catch(() => undefined);
  });
  return steps;
}
