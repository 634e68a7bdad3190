/**
 * Waits for `work` at most `ms`: resolves with its value, or with "timeout" when the deadline passes first. The timer
 * is unref'd and cleared, so a stop bounded by it never holds the process open or leaves a timer behind.
 */
export function within<T>(work: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
    timer.unref();
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
