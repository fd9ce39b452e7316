/**
 * Each adapter declares whether its update is idempotent (`ProviderAdapter.updateIdempotency`), and
 * the resilience layer repeats an update whose outcome is unknown (no answer after connecting, a
 * 502/503/504) only when it is. Reads, a 429 and a connection never made are repeated for any vendor.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { providerKinds, providers } from '../providers/index.ts';
import type { ApiKeyPatch, ProviderAdapter, Sandbox } from '../providers/types.ts';
import { faults } from '../sandbox/simulator-kit.ts';
import { resolveConfig, type Config } from '../src/config/schema.ts';
import { call } from '../src/core/call.ts';
import { createConnections, type Connection } from '../src/core/connections.ts';
import type { OperationContext } from '../src/core/context.ts';
import { GatewayError, unavailableError, upstreamError } from '../src/core/errors.ts';
import { createResilience } from '../src/upstream/resilience.ts';
import { registerSecret } from './harness.ts';

describe('the built-in adapters', () => {
  it('each declares whether its update is idempotent, with the reason', () => {
    // The last five are on the declarative engine, which derives it from the update calls.
    expect(providerKinds).toEqual(['mesa', 'basic', 'atlas', 'tyk', 'plumaa', 'sendgrid', 'datadog', 'confluent', 'cloudflare', 'algolia']);
    for (const kind of providerKinds) {
      const { idempotent, why } = providers[kind].adapter.updateIdempotency;
      expect(idempotent, kind).toBe(true);
      expect(why.length, kind).toBeGreaterThan(20);
    }
  });
});

/** A mesa connection whose adapter says what the test needs about its update. */
function withIdempotency(config: Config, idempotent: boolean): Config {
  const c = config.providers.get('m')!;
  const adapter: ProviderAdapter = { ...c.adapter, updateIdempotency: { idempotent, why: 'test' } };
  return { ...config, providers: new Map([['m', { ...c, adapter }]]) };
}

/** Short timeouts, three attempts, no real backoff, a breaker that never opens. */
const baseConfig = (connection: Record<string, unknown> = { baseUrl: 'http://127.0.0.1:9', org: 'acme', token: 'mesa_idempotency_token_1' }) =>
  resolveConfig({
    providers: {
      m: {
        kind: 'mesa',
        ...connection,
        timeoutMs: 200,
        deadlineMs: 10_000,
        retry: { attempts: 3, maxDelayMs: 1 },
        circuitBreaker: { failures: 100, cooldownMs: 1000 },
      },
    },
  });

const res = (status: number) => ({ status, headers: new Headers(), json: undefined, text: '' });
const answered = (status: number) => upstreamError('m', 'k', res(status), {}, []);

/** Attempts `execute` made when every attempt fails with `failure`. */
async function attemptsFor(idempotent: boolean, call: 'read' | 'update', failure: () => GatewayError): Promise<number> {
  const resilience = createResilience(withIdempotency(baseConfig(), idempotent).providers.get('m')!, { random: () => 0 });
  let attempts = 0;
  await resilience
    .execute(
      async () => {
        attempts += 1;
        throw failure();
      },
      undefined,
      undefined,
      call,
    )
    .catch((err: unknown) => {
      if (!(err instanceof GatewayError)) throw err;
    });
  return attempts;
}

describe('retries by idempotency (in-process)', () => {
  const unknown: Record<string, () => GatewayError> = {
    'a timeout or reset': () => unavailableError('m', 'k', 'connection failed (ECONNRESET)'),
    'a 502': () => answered(502),
    'a 503': () => answered(503),
    'a 504': () => answered(504),
  };
  const notApplied: Record<string, () => GatewayError> = {
    'a 429': () => answered(429),
    'a connection never made': () => unavailableError('m', 'k', 'connection failed (ECONNREFUSED)', true),
  };

  for (const [what, failure] of Object.entries(unknown)) {
    it(`sends a non-idempotent update once after ${what}; an idempotent one and reads are repeated`, async () => {
      expect(await attemptsFor(false, 'update', failure)).toBe(1);
      expect(await attemptsFor(true, 'update', failure)).toBe(3);
      expect(await attemptsFor(false, 'read', failure)).toBe(3);
    });
  }

  for (const [what, failure] of Object.entries(notApplied)) {
    it(`repeats a non-idempotent update after ${what}: nothing was applied`, async () => {
      expect(await attemptsFor(false, 'update', failure)).toBe(3);
    });
  }

  it('never repeats what is not retryable, idempotent or not', async () => {
    expect(await attemptsFor(true, 'update', () => answered(500))).toBe(1);
    expect(await attemptsFor(true, 'read', () => answered(400))).toBe(1);
  });
});

describe('retries by idempotency over real HTTP (mesa simulator)', () => {
  let sandbox: Sandbox;
  const patch: ApiKeyPatch = { setTags: [{ key: 'team', value: 'blue' }] };
  const ctx = (connections: ReturnType<typeof createConnections>) =>
    ({ connections, log: { debug() {}, info() {}, warn() {}, error() {} }, requestId: 'idempotency-test' }) as unknown as OperationContext;

  /** One update through the resilience layer, as updateApiKey sends it; its error (or undefined). */
  async function update(config: Config): Promise<GatewayError | undefined> {
    const connections = createConnections(config);
    const connection = connections.get('m') as Connection;
    const id = sandbox.demoKeyIds[0];
    try {
      await connection.resilience.execute(
        () => call(ctx(connections), connection, 'm', id, connection.adapter.buildUpdate(connection.settings, id, patch)),
        undefined,
        undefined,
        'update',
      );
      return undefined;
    } catch (err) {
      return err as GatewayError;
    } finally {
      await connections.close(true);
    }
  }

  const simConfig = (idempotent: boolean) => withIdempotency(baseConfig(sandbox.connection), idempotent);
  const writes = () => sandbox.simulator.requests.filter((r) => r.method === 'PATCH').length;

  beforeAll(async () => {
    sandbox = await providers.mesa.startSandbox();
    registerSecret(String(sandbox.connection.token));
  });
  afterAll(() => sandbox.simulator.close());
  beforeEach(() => sandbox.simulator.reset());

  it('a reset: a non-idempotent update reaches the vendor once, an idempotent one until it succeeds', async () => {
    sandbox.simulator.inject(faults.reset());
    const err = await update(simConfig(false));
    expect(err?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 1 });
    expect(writes()).toBe(1);

    sandbox.simulator.reset();
    sandbox.simulator.inject(faults.reset());
    expect(await update(simConfig(true))).toBeUndefined();
    expect(writes()).toBe(2);
  });

  it('a timeout or a 503: a non-idempotent update is not repeated', async () => {
    sandbox.simulator.inject(faults.hang());
    expect((await update(simConfig(false)))?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 1 });
    expect(writes()).toBe(1);

    sandbox.simulator.reset();
    sandbox.simulator.inject(faults.unavailable());
    expect((await update(simConfig(false)))?.extensions).toMatchObject({ upstream: { status: 503, attempts: 1 } });
    expect(writes()).toBe(1);
  });

  it('a 429: a non-idempotent update is repeated, since the vendor applied nothing', async () => {
    sandbox.simulator.inject(faults.rateLimited(undefined, { times: 2 }));
    expect(await update(simConfig(false))).toBeUndefined();
    expect(sandbox.simulator.requests.map((r) => r.status)).toEqual([429, 429, 200]);
  });

  it('a refused connection: a non-idempotent update is repeated, since nothing was sent', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((r) => closed.close(() => r()));
    const err = await update(withIdempotency(baseConfig({ ...sandbox.connection, baseUrl: `http://127.0.0.1:${port}` }), false));
    expect(err?.message).toContain('ECONNREFUSED');
    expect(err?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 3 });
  });
});
