/**
 * Waits until `condition` holds, polling it; fails after `timeoutMs` (a generous bound, not a
 * measurement) naming `what` it waited for. The one way tests wait for something to happen.
 */
export async function until(condition: () => boolean | Promise<boolean>, options: { timeoutMs?: number; what?: string } = {}): Promise<void> {
  const { timeoutMs = 10_000, what = 'the condition' } = options;
  const end = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
