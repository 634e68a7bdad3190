/** Waits on a condition with a deadline instead of sleeping for luck. The error says what never happened. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  { timeoutMs = 30_000, intervalMs = 25 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves with "puback" or "none" after `windowMs`: an observation window, not a sleep for luck. */
export function pubackWithin(promise: Promise<unknown>, windowMs: number): Promise<"puback" | "none"> {
  return Promise.race([
    promise.then(() => "puback" as const),
    new Promise<"none">((resolve) => setTimeout(() => resolve("none"), windowMs)),
  ]);
}
