/**
 * Clocks (src/core/clock.ts) for tests: `fakeClock` for unit tests, where time stands still until
 * `advance` fires the due timers in order; `skippableClock` for gateways under end-to-end tests.
 */
import { realClock, type Clock } from '../src/core/clock.ts';

export interface FakeClock extends Clock {
  /** Moves time forward by `ms`, firing every timer due by then, in order. */
  advance(ms: number): Promise<void>;
  /** Lets pending promise work run without moving time. */
  settle(): Promise<void>;
  /** Timers not yet fired or cleared. */
  pending(): number;
}

export function fakeClock(start = 0): FakeClock {
  let now = start;
  let nextId = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  // One macrotask turn drains every microtask queued before it, chained ones included.
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  return {
    now: () => now,
    setTimeout(fn, ms) {
      nextId += 1;
      timers.set(nextId, { at: now + Math.max(0, ms), fn });
      return nextId;
    },
    clearTimeout: (id) => void timers.delete(id as number),
    pending: () => timers.size,
    settle,
    async advance(ms) {
      const end = now + ms;
      await settle();
      for (;;) {
        let due: [number, { at: number; fn: () => void }] | undefined;
        // Earliest first; among equals, the one set first (Map keeps insertion order).
        for (const entry of timers) if (entry[1].at <= end && (!due || entry[1].at < due[1].at)) due = entry;
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
        await settle();
      }
      now = end;
      await settle();
    },
  };
}

export interface SkippableClock extends Clock {
  /** Jumps `ms` ahead at once: what reads `now()` (breaker cooldowns) sees that time pass. */
  skip(ms: number): void;
}

/**
 * The real clock, plus `skip`: for gateways under end-to-end tests, so a breaker cooldown can end
 * without being waited out while HTTP and timers run in real time.
 */
export function skippableClock(): SkippableClock {
  let skipped = 0;
  return {
    now: () => realClock.now() + skipped,
    setTimeout: realClock.setTimeout,
    clearTimeout: realClock.clearTimeout,
    skip: (ms) => {
      skipped += ms;
    },
  };
}
