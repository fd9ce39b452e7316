/**
 * Soak: 2,000 mutations at concurrency 50 across every provider, about 10% of them meeting a random
 * fault. keygate must not crash or leak: every answer is a success or a contract error, no promise
 * rejection goes unhandled, RSS grows by less than 50 MB and the sockets stay bounded.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AtlasSimulator } from '../providers/atlas/simulator.ts';
import { providerKinds, providers } from '../providers/index.ts';
import { faults, type Fault } from '../sandbox/simulator-kit.ts';
import type { ApiKeyPatch, ErrorCode, BuiltinKind, RunningSimulator, Sandbox } from '../providers/types.ts';
import { registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

const MUTATIONS = 2_000;
const CONCURRENCY = 50;
const FAULT_RATE = 0.1;
const MAX_CONCURRENCY = 8;

const CONTRACT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'BAD_USER_INPUT',
  'UNSUPPORTED_FIELD',
  'UNKNOWN_PROVIDER',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'RATE_LIMITED',
  'UPSTREAM_ERROR',
  'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_BAD_RESPONSE',
  'UNSUPPORTED_OPERATION',
]);

/** Makes a simulator misbehave; false when the fault does not apply to that vendor. */
type Injector = (simulator: RunningSimulator) => boolean;
const inject =
  (fault: Fault): Injector =>
  (simulator) => {
    simulator.inject(fault);
    return true;
  };

/** Every fault of the Fault API, small enough to keep the run quick. */
const FAULTS: Injector[] = [
  inject(faults.delay(80)),
  inject(faults.hang()),
  inject(faults.reset()),
  inject(faults.html502()),
  inject(faults.unavailable({ times: 2 })),
  inject(faults.rateLimited(0)),
  inject(faults.rateLimited(60)),
  inject(faults.truncatedJson()),
  inject(faults.oversize(2 * 1024 * 1024)),
  inject(faults.redirect('http://127.0.0.1:9/elsewhere')),
  inject({ response: { status: 404 } }),
  (simulator) => {
    const expireNonces = (simulator as Partial<AtlasSimulator>).expireNonces;
    expireNonces?.();
    return expireNonces !== undefined;
  },
];

function patchFor(kind: BuiltinKind, i: number): ApiKeyPatch {
  return providers[kind].adapter.patchFields.includes('name') ? { name: `soak ${i}` } : { setTags: [{ key: 'soak', value: String(i) }] };
}

/** `global.gc` without starting node with --expose-gc. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

const tcpSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

let sandboxes: Map<BuiltinKind, Sandbox>;
let gw: TestGateway;

beforeAll(async () => {
  sandboxes = new Map();
  for (const kind of providerKinds) {
    const s = await providers[kind].startSandbox();
    for (const [field, value] of Object.entries(s.connection)) if (providers[kind].adapter.secretConfigFields.includes(field)) registerSecret(String(value));
    sandboxes.set(kind, s);
  }
  // Timeouts far above a healthy answer at this concurrency on a loaded machine: only the injected
  // hangs time out (short ones made healthy calls time out there, and the breakers open).
  const options = {
    timeoutMs: 2_000,
    deadlineMs: 10_000,
    retry: { attempts: 3, maxDelayMs: 50 },
    maxConcurrency: MAX_CONCURRENCY,
    circuitBreaker: { failures: 5, cooldownMs: 200 },
    // No pacing: an injected 429 would pause a connection for its Retry-After (test/rate-limit.test.ts).
    rateLimit: false,
  };
  // Audit off: this test measures the resilience path's memory; the audit store has its own tests.
  gw = await startGateway({ providers: Object.fromEntries([...sandboxes].map(([kind, s]) => [kind, { kind, ...s.connection, ...options }])), audit: false });
});
afterAll(async () => {
  await gw?.close();
  await Promise.all([...(sandboxes?.values() ?? [])].map((s) => s.simulator.close()));
});

describe('soak', () => {
  it(`${MUTATIONS} mutations at concurrency ${CONCURRENCY} with ~${FAULT_RATE * 100}% faults: no crash, contract answers only, bounded memory and sockets`, async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const kinds = [...sandboxes.keys()];
      const outcomes = new Map<string, number>();
      let peakSockets = 0;
      let faulted = 0;

      const one = async (i: number) => {
        const kind = kinds[i % kinds.length];
        const sandbox = sandboxes.get(kind)!;
        if (Math.random() < FAULT_RATE) {
          while (!FAULTS[Math.floor(Math.random() * FAULTS.length)](sandbox.simulator));
          faulted += 1;
        }
        const id = sandbox.demoKeyIds[i % sandbox.demoKeyIds.length];
        const res = await gw.gql(UPDATE, { provider: kind, id, patch: patchFor(kind, i) });
        if (res.body.errors) {
          expect(res.body.errors, JSON.stringify(res.body)).toHaveLength(1);
          const code = res.body.errors[0].extensions.code;
          expect(CONTRACT_CODES.has(code), `${kind}: ${JSON.stringify(res.body.errors[0])}`).toBe(true);
          outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
        } else {
          expect(res.body.data?.updateApiKey.id).toBe(id);
          outcomes.set('OK', (outcomes.get('OK') ?? 0) + 1);
        }
        peakSockets = Math.max(peakSockets, tcpSockets());
      };

      const run = async (from: number, to: number) => {
        let next = from;
        const worker = async () => {
          while (next < to) await one(next++);
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      };

      // V8 lets its heap grow to several times the live set before a major GC, so RSS sampled at
      // random moments says more about V8's pacing than about keygate. A full GC after every batch
      // makes RSS show what is retained: a leak grows it batch after batch. What the test itself
      // keeps (the simulators' request logs, the harness's log lines) is dropped there too.
      const gc = exposeGc();
      const BATCH = 200;
      // JIT, pools, caches, and V8 sizing its young generation for this load: RSS climbs for the
      // first two or three batches, then stays flat unless something leaks.
      const WARM_UP = 3 * BATCH;
      const settle = () => {
        for (const s of sandboxes.values()) s.simulator.requests.length = 0;
        gw.logs.length = 0;
        gc();
      };
      const started = performance.now();
      let rssBefore = 0;
      const rssTrend: number[] = [];
      for (let from = 0; from < MUTATIONS; from += BATCH) {
        await run(from, Math.min(from + BATCH, MUTATIONS));
        settle();
        const rss = process.memoryUsage().rss;
        if (from + BATCH === WARM_UP) rssBefore = rss;
        rssTrend.push(Math.round(rss / 1024 / 1024));
      }
      const seconds = (performance.now() - started) / 1000;
      const rssGrowthMb = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;

      const vendorSockets = Object.fromEntries([...sandboxes].map(([kind, s]) => [kind, s.simulator.maxSockets()]));
      const summary = {
        seconds: seconds.toFixed(1),
        faulted,
        rssGrowthMb: rssGrowthMb.toFixed(1),
        rssTrend,
        peakSockets,
        vendorSockets,
        outcomes: Object.fromEntries(outcomes),
      };
      console.log(`soak: ${JSON.stringify(summary)}`);

      expect([...outcomes.values()].reduce((a, b) => a + b, 0)).toBe(MUTATIONS);
      expect(outcomes.get('OK') ?? 0).toBeGreaterThan(MUTATIONS * 0.7);
      expect(unhandled).toEqual([]);
      expect(rssGrowthMb).toBeLessThan(50);
      // Per vendor at most maxConcurrency pooled sockets (a few more while dropped ones close).
      for (const [kind, s] of sandboxes) expect(s.simulator.maxSockets(), kind).toBeLessThanOrEqual(MAX_CONCURRENCY * 1.5);
      // In this process: the test's 50 client sockets and their server ends, plus the upstream pools and their server ends.
      expect(peakSockets).toBeLessThanOrEqual(2 * CONCURRENCY + 2 * kinds.length * 2 * MAX_CONCURRENCY);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  }, 90_000);
});
