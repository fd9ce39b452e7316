/**
 * One deadline per call (src/core/deadline.ts): the wait for a key's lock, the bulkhead queue and every
 * attempt share it, so a call that waited gets only what is left. A hand-driven clock: no wall clock.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveConfig } from '../src/config/schema.ts';
import { DeadlineExceededError, startDeadline } from '../src/core/deadline.ts';
import { GatewayError } from '../src/core/errors.ts';
import { createKeyLock, KeyLockError } from '../src/core/key-lock.ts';
import { createResilience } from '../src/upstream/resilience.ts';
import { fakeClock, type FakeClock } from './fake-clock.ts';

let clock: FakeClock;
beforeEach(() => {
  clock = fakeClock();
});

/** A holder's work that ends when the test says so. */
function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('the in-process key lock under a call deadline', () => {
  it('gives up at the caller deadline, not a fresh one: queued callers never run their work', async () => {
    const lock = createKeyLock();
    const held = gate();
    const holder = lock.run('k', startDeadline(1000, clock), () => held.promise);
    const ran: string[] = [];
    const waiters = ['b', 'c', 'd'].map((name) => lock.run('k', startDeadline(1000, clock), async () => void ran.push(name)).catch((err: unknown) => err));
    await clock.advance(1000);
    for (const w of await Promise.all(waiters)) {
      expect(w).toBeInstanceOf(KeyLockError);
      expect((w as KeyLockError).kind).toBe('timeout');
      expect((w as KeyLockError).message).toContain("past this call's deadline of 1000 ms");
    }
    held.open();
    await holder;
    expect(ran).toEqual([]);
  });

  it('hands a caller that waited only the rest of its deadline', async () => {
    const lock = createKeyLock();
    const held = gate();
    const holder = lock.run('k', startDeadline(1000, clock), () => held.promise);
    const deadline = startDeadline(1000, clock);
    const left = lock.run('k', deadline, async () => deadline.remaining());
    await clock.advance(600);
    held.open();
    await holder;
    expect(await left).toBe(400);
  });

  it('serves other keys meanwhile', async () => {
    const lock = createKeyLock();
    const held = gate();
    const holder = lock.run('k', startDeadline(1000, clock), () => held.promise);
    expect(await lock.run('other', startDeadline(1000, clock), async () => 'ran')).toBe('ran');
    held.open();
    await holder;
  });
});

describe('resilience under a call deadline that started earlier', () => {
  const connection = (over: Record<string, unknown> = {}) =>
    resolveConfig({
      providers: { m: { kind: 'mesa', baseUrl: 'http://127.0.0.1:9', org: 'o', token: 'mesa_deadline_token_1', deadlineMs: 1000, timeoutMs: 1000, ...over } },
    }).providers.get('m')!;

  it("aborts the attempt at the call's deadline, counting the time spent before execute", async () => {
    const resilience = createResilience(connection(), { clock });
    const deadline = startDeadline(1000, clock);
    await clock.advance(900);
    let reason: unknown;
    const call = resilience.execute(
      (signal) =>
        new Promise((_, reject) =>
          signal!.addEventListener('abort', () => {
            reason = signal!.reason;
            reject(new GatewayError('m: aborted', { code: 'UPSTREAM_UNAVAILABLE', provider: 'm' }));
          }),
        ),
      undefined,
      deadline,
    );
    let settled: unknown;
    void call.catch((err: unknown) => (settled = err));
    await clock.advance(100);
    // 1000 ms after the call began, not 1000 ms after execute.
    expect(settled).toBeInstanceOf(GatewayError);
    expect(reason).toBeInstanceOf(DeadlineExceededError);
  });

  it('sends nothing when the deadline passed before the first attempt (it went on waiting for a lock)', async () => {
    const resilience = createResilience(connection(), { clock });
    const deadline = startDeadline(1000, clock);
    await clock.advance(1000);
    const attempt = vi.fn(async () => 'sent');
    const err = await resilience.execute(attempt, undefined, deadline).catch((e: unknown) => e);
    expect(attempt).not.toHaveBeenCalled();
    expect((err as GatewayError).extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 0 });
    expect((err as GatewayError).message).toContain('within the deadline of 1000 ms; nothing was sent');
  });

  it('does not wait out a backoff longer than what is left of the earlier-started deadline', async () => {
    const resilience = createResilience(connection({ retry: { attempts: 3, maxDelayMs: 500 } }), { random: () => 0.99, clock });
    const deadline = startDeadline(1000, clock);
    await clock.advance(950);
    const attempt = vi.fn(async () => {
      throw new GatewayError('m: down', { code: 'UPSTREAM_UNAVAILABLE', provider: 'm' });
    });
    const err = await resilience.execute(attempt, undefined, deadline).catch((e: unknown) => e);
    // 50 ms left, the backoff would be ~99 ms: answered after one attempt, without waiting.
    expect(attempt).toHaveBeenCalledTimes(1);
    expect((err as GatewayError).extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 1 });
  });
});
