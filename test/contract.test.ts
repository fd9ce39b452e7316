/**
 * Shared contract: every registered vendor meets every scenario, over real loopback HTTP.
 * A new provider folder registered in providers/index.ts is covered here automatically.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { providerKinds, providers } from '../providers/index.ts';
import { htmlPage } from '../sandbox/simulator-kit.ts';
import type { ApiKeyPatch, BuiltinKind, Sandbox } from '../providers/types.ts';
import { registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

/** A patch every vendor of this kind accepts. */
function validPatch(kind: BuiltinKind): ApiKeyPatch & Record<string, unknown> {
  const fields = providers[kind].adapter.patchFields;
  if (fields.includes('name')) return { name: 'contract test' };
  return { setTags: [{ key: 'contract', value: 'yes' }] };
}

describe.each(providerKinds)('%s meets the shared contract', (kind) => {
  let sandbox: Sandbox;
  let gw: TestGateway;
  let closedPort: number;
  let id: string;

  beforeAll(async () => {
    sandbox = await providers[kind].startSandbox();
    id = sandbox.demoKeyIds[0];
    for (const [field, value] of Object.entries(sandbox.connection))
      if (providers[kind].adapter.secretConfigFields.includes(field)) registerSecret(String(value));
    // A privileged port nothing listens on: a port that was merely free could be taken by another
    // test file's server in the meantime.
    closedPort = 1;
    // One attempt each and no pacing: these scenarios are about mapping; test/resilience.test.ts
    // covers retries, test/rate-limit.test.ts the pause a 429 starts.
    const once = { retry: { attempts: 1, maxDelayMs: 0 }, rateLimit: false };
    gw = await startGateway({
      providers: {
        [kind]: { kind, ...sandbox.connection, ...once },
        slow: { kind, ...sandbox.connection, timeoutMs: 300, ...once },
        // Same path (Atlas names its API version there), nobody listening.
        down: {
          kind,
          ...sandbox.connection,
          baseUrl: `http://127.0.0.1:${closedPort}${new URL(String(sandbox.connection.baseUrl)).pathname.replace(/\/$/, '')}`,
          ...once,
        },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await sandbox?.simulator.close();
  });
  beforeEach(() => sandbox.simulator.reset());

  const update = (provider: string, patch: unknown = validPatch(kind), keyId = id) => gw.gql(UPDATE, { provider, id: keyId, patch });

  it('applies a valid patch to a demo key and the vendor records one write', async () => {
    const res = await update(kind);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.updateApiKey).toMatchObject({ provider: kind, kind: kind.toUpperCase(), id });
    expect(sandbox.simulator.writes()).toHaveLength(1);
  });

  it('answers an HTML 502 page with UPSTREAM_ERROR and a readable message', async () => {
    sandbox.simulator.inject({ response: htmlPage(502, 'Bad Gateway') });
    const res = await update(kind);
    expect(res.body.data).toBeNull();
    const [err] = res.body.errors!;
    expect(err.path).toEqual(['updateApiKey']);
    expect(err.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: kind, upstream: { status: 502, message: '502 Bad Gateway' } });
    expect(err.message).toContain(kind);
    expect(err.message).toContain(id);
    expect(err.message).not.toContain('<html>');
  });

  it('answers an empty 503 with UPSTREAM_ERROR that still says what happened', async () => {
    sandbox.simulator.inject({ response: { status: 503 } });
    const [err] = (await update(kind)).body.errors!;
    expect(err.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstream: { status: 503 } });
    expect(err.message).toMatch(/HTTP 503.*empty body/);
  });

  it('answers a 2xx body that is not what the vendor documents with UPSTREAM_BAD_RESPONSE', async () => {
    sandbox.simulator.inject({ response: { status: 200, text: '<html>maintenance</html>' } });
    const [err] = (await update(kind)).body.errors!;
    expect(err.extensions).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', provider: kind, upstream: { status: 200 } });
  });

  it('never follows a redirect (our credentials must not travel elsewhere)', async () => {
    let followed = 0;
    const elsewhere = createServer((_req, res) => {
      followed += 1;
      res.end('{}');
    });
    await new Promise<void>((r) => elsewhere.listen(0, '127.0.0.1', r));
    const target = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/steal`;
    sandbox.simulator.inject({ response: { status: 307, headers: { location: target } } });
    const [err] = (await update(kind)).body.errors!;
    await new Promise<void>((r) => elsewhere.close(() => r()));
    expect(err.extensions).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', upstream: { status: 307 } });
    expect(followed).toBe(0);
  });

  it('answers a reset connection, a closed port and a timeout with UPSTREAM_UNAVAILABLE', async () => {
    sandbox.simulator.inject({ reset: true });
    expect((await update(kind)).body.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: kind });
    const down = (await update('down')).body.errors![0];
    expect(down.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'down' });
    expect(down.message).toContain('ECONNREFUSED');
    sandbox.simulator.inject({ hang: true });
    const slow = (await update('slow')).body.errors![0];
    expect(slow.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'slow' });
    expect(slow.message).toContain('300 ms');
  });

  it('answers 429 with RATE_LIMITED and retryAfter, from seconds or an HTTP date', async () => {
    sandbox.simulator.inject({ response: { status: 429, headers: { 'retry-after': '30' } } });
    expect((await update(kind)).body.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', upstream: { status: 429, retryAfter: 30 } });
    const at = new Date(Date.now() + 120_000).toUTCString();
    sandbox.simulator.inject({ response: { status: 429, headers: { 'retry-after': at } } });
    const retryAfter = (await update(kind)).body.errors?.[0].extensions.upstream.retryAfter;
    expect(retryAfter).toBeGreaterThanOrEqual(118);
    expect(retryAfter).toBeLessThanOrEqual(121);
  });

  it.each([
    ['empty', ''],
    ['a dot segment', '..'],
    ['a single dot', '.'],
    ['an encoded dot segment', '%2e%2e'],
    ['a slash', 'a/b'],
    ['a backslash', 'a\\b'],
    ['a query', 'a?x=1'],
    ['a fragment', 'a#b'],
    ['a space', 'a b'],
    ['CR/LF', 'a\r\nX-Injected: 1'],
    ['a NUL', 'a\u0000b'],
    ['too long', 'k'.repeat(257)],
  ])('refuses an id that is %s with BAD_USER_INPUT, sending nothing', async (_what, badId) => {
    const res = await update(kind, validPatch(kind), badId);
    expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', provider: kind, field: 'id' });
    expect(sandbox.simulator.requests).toHaveLength(0);
  });

  it('refuses an empty patch, naming the fields it could set', async () => {
    const res = await update(kind, {});
    const [err] = res.body.errors!;
    expect(err.extensions.code).toBe('BAD_USER_INPUT');
    expect(err.message).toContain(providers[kind].adapter.patchFields.join(', '));
    expect(sandbox.simulator.requests).toHaveLength(0);
  });

  it('refuses an unknown provider with UNKNOWN_PROVIDER, naming the configured ones', async () => {
    for (const name of ['nope', '__proto__', 'constructor', 'toString']) {
      const [err] = (await update(name)).body.errors!;
      expect(err.extensions).toMatchObject({ code: 'UNKNOWN_PROVIDER', provider: name });
      expect(err.message).toContain(`configured: ${kind}, slow, down`);
    }
    expect(sandbox.simulator.requests).toHaveLength(0);
  });

  it('lists the provider with its patch fields', async () => {
    const res = await gw.gql('{ providers { name kind patchFields } }');
    expect(res.body.data?.providers[0]).toEqual({ name: kind, kind: kind.toUpperCase(), patchFields: [...providers[kind].adapter.patchFields] });
  });
});
