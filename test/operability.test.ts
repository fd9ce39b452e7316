/**
 * Issue 7: metrics, health and readiness, request ids end to end, --check-config, reload.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMesaSimulator, demoKey, type MesaSimulator } from '../providers/mesa/simulator.ts';
import { loadConfigFile } from '../src/config/load.ts';
import { createLogger, LazyChildLog } from '../src/observability/log.ts';
import { startKeygate, type RunningKeygate } from '../src/app.ts';
import { recordSeen, registerSecret, run, startGateway, until, UPDATE, type TestGateway } from './harness.ts';

const OLD = 'mesa_ops_old_token_1357';
const NEW = 'mesa_ops_new_token_2468';
registerSecret(OLD, NEW);

let sim: MesaSimulator;
const tokens: Record<string, string[]> = { [OLD]: ['admin'], [NEW]: ['admin'] };

beforeAll(async () => {
  sim = await createMesaSimulator({ org: 'acme', tokens, keys: [demoKey('key_a', 'A', {}), demoKey('key_b', 'B', {})] });
});
afterAll(async () => {
  await sim?.close();
});
beforeEach(() => sim.reset());

async function scrape(url: string): Promise<string> {
  const text = await (await fetch(url)).text();
  recordSeen(text);
  return text;
}
function metric(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('metrics, health, readiness and request ids', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({
      providers: {
        mesa: { kind: 'mesa', baseUrl: sim.baseUrl, org: 'acme', token: OLD },
        fragile: { kind: 'mesa', baseUrl: sim.baseUrl, org: 'acme', token: OLD, retry: { attempts: 1 }, circuitBreaker: { failures: 1, cooldownMs: 60_000 } },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('counts upstream requests, latencies, outcomes and GraphQL errors after known traffic, with no key id or secret in a label', async () => {
    const base = await scrape(gw.keygate.metricsUrl);
    const before = {
      ok: metric(base, 'keygate_upstream_requests_total', { provider: 'mesa', method: 'PATCH', status_class: '2xx' }),
      nf: metric(base, 'keygate_upstream_requests_total', { provider: 'mesa', method: 'PATCH', status_class: '4xx' }),
    };
    await gw.gql(UPDATE, { provider: 'mesa', id: 'key_a', patch: { setTags: [{ key: 'x', value: '1' }] } });
    await gw.gql(UPDATE, { provider: 'mesa', id: 'key_b', patch: { setTags: [{ key: 'x', value: '1' }] } });
    await gw.gql(UPDATE, { provider: 'mesa', id: 'key_missing_42', patch: { removeTags: ['x'] } });
    await gw.gql(UPDATE, { provider: 'no-such-provider-secret-ish', id: 'k', patch: { removeTags: ['x'] } });
    const text = await scrape(gw.keygate.metricsUrl);
    expect(metric(text, 'keygate_upstream_requests_total', { provider: 'mesa', kind: 'mesa', method: 'PATCH', status_class: '2xx' }) - before.ok).toBe(2);
    expect(metric(text, 'keygate_upstream_requests_total', { provider: 'mesa', method: 'PATCH', status_class: '4xx' }) - before.nf).toBe(1);
    expect(metric(text, 'keygate_upstream_request_duration_seconds_count', { provider: 'mesa', method: 'PATCH' })).toBeGreaterThanOrEqual(3);
    expect(metric(text, 'keygate_operation_outcomes_total', { provider: 'mesa', operation: 'update', code: 'OK' })).toBeGreaterThanOrEqual(2);
    expect(metric(text, 'keygate_operation_outcomes_total', { provider: 'mesa', operation: 'update', code: 'NOT_FOUND' })).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'keygate_operation_outcomes_total', { provider: '(unknown)', operation: 'update', code: 'UNKNOWN_PROVIDER' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(metric(text, 'keygate_graphql_errors_total', { code: 'NOT_FOUND' })).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'keygate_graphql_operation_duration_seconds_count', { operation_type: 'mutation' })).toBeGreaterThanOrEqual(4);
    expect(metric(text, 'keygate_circuit_breaker_state', { provider: 'mesa', kind: 'mesa' })).toBe(0);
    expect(text).toMatch(/^keygate_circuit_breaker_state\{provider="mesa",kind="mesa"\} 0$/m);
    expect(metric(text, 'keygate_audit_write_duration_seconds_count', { store: 'sqlite' })).toBeGreaterThanOrEqual(6);
    for (const s of ['key_a', 'key_missing_42', 'no-such-provider-secret-ish', OLD]) expect(text).not.toContain(s);
  });

  it('counts retries and shows the circuit breaker state per connection', async () => {
    const before = metric(await scrape(gw.keygate.metricsUrl), 'keygate_upstream_retries_total', { provider: 'mesa' });
    sim.inject({ method: 'PATCH', response: { status: 503 } });
    expect((await gw.gql(UPDATE, { provider: 'mesa', id: 'key_a', patch: { removeTags: ['x'] } })).body.errors).toBeUndefined();
    sim.inject({ method: 'PATCH', response: { status: 503 } });
    await gw.gql(UPDATE, { provider: 'fragile', id: 'key_a', patch: { removeTags: ['x'] } });
    const text = await scrape(gw.keygate.metricsUrl);
    expect(metric(text, 'keygate_upstream_retries_total', { provider: 'mesa' }) - before).toBe(1);
    expect(text).toMatch(/^keygate_circuit_breaker_state\{provider="fragile",kind="mesa"\} 2$/m);
    expect(text).toMatch(/^keygate_circuit_breaker_state\{provider="mesa",kind="mesa"\} 0$/m);
  });

  it('serves /health (liveness) and /ready (readiness)', async () => {
    const origin = new URL(gw.url).origin;
    expect((await fetch(`${origin}/health`)).status).toBe(200);
    const ready = await fetch(`${origin}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { config: 'ok', draining: 'ok', audit: 'ok' } });
  });

  it('keeps a well-formed x-request-id: response header, extensions.requestId on errors, X-Request-Id upstream, log lines', async () => {
    const res = await gw.gql(UPDATE, { provider: 'mesa', id: 'key_nope', patch: { removeTags: ['x'] } }, { 'x-request-id': 'req-abc.123' });
    expect(res.headers.get('x-request-id')).toBe('req-abc.123');
    expect(res.body.errors?.[0].extensions.requestId).toBe('req-abc.123');
    expect(sim.requests[0].headers['x-request-id']).toBe('req-abc.123');
    expect(gw.logs.some((l) => l.includes('"requestId":"req-abc.123"') && l.includes('upstream error'))).toBe(true);
  });

  it('replaces a malformed x-request-id with one of its own', async () => {
    for (const bad of ['has space', 'x'.repeat(200), 'a\u00e9b']) {
      const res = await gw.gql(UPDATE, { provider: 'mesa', id: 'key_a', patch: { removeTags: ['x'] } }, { 'x-request-id': bad });
      const id = res.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(sim.requests.at(-1)!.headers['x-request-id']).toBe(id);
    }
    const unknown = await gw.gql('{ apiKey(provider: "nope", id: "x") { id } }');
    expect(unknown.body.errors?.[0].extensions.requestId).toBe(unknown.headers.get('x-request-id'));
  });
});

describe('per-request logger', () => {
  it('makes the child (and redacts its bindings) only for a line at an enabled level; the line carries the bindings', () => {
    const lines: string[] = [];
    const base = createLogger({
      level: 'warn',
      destination: new Writable({
        write: (c, _e, cb) => {
          lines.push(String(c));
          cb();
        },
      }) as never,
    });
    let children = 0;
    const child = base.child.bind(base);
    base.child = ((...args: Parameters<typeof child>) => {
      children += 1;
      return child(...args);
    }) as typeof base.child;
    const log = new LazyChildLog(base, { requestId: 'req-1', caller: 'token:ops' });
    log.info({ a: 1 }, 'below the level');
    log.debug({ a: 1 }, 'below the level');
    expect(children).toBe(0);
    log.warn({ a: 2, token: 'not-to-be-seen' }, 'first');
    log.error({ a: 3 }, 'second');
    expect(children).toBe(1);
    expect(lines.map((l) => JSON.parse(l))).toMatchObject([
      { level: 40, requestId: 'req-1', caller: 'token:ops', a: 2, token: '[redacted]', msg: 'first' },
      { level: 50, requestId: 'req-1', caller: 'token:ops', a: 3, msg: 'second' },
    ]);
  });
});

describe('config reload and --check-config', () => {
  let dir: string;
  let file: string;
  let keygate: RunningKeygate;
  const logs: string[] = [];
  const yaml = (token: string) => `providers:\n  mesa:\n    kind: mesa\n    baseUrl: ${sim.baseUrl}\n    org: acme\n    token: ${token}\nmetrics:\n  port: 0\n`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keygate-reload-'));
    file = join(dir, 'keygate.yaml');
    writeFileSync(file, yaml(OLD));
    const destination = new Writable({
      write(chunk, _e, cb) {
        logs.push(String(chunk));
        recordSeen(String(chunk));
        cb();
      },
    });
    keygate = await startKeygate({ config: loadConfigFile(file), port: 0, configPath: file, log: createLogger({ destination }) });
  });
  afterAll(async () => {
    await keygate?.close();
  });

  const update = async (id: string) => {
    const res = await fetch(keygate.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'mutation($id: ID!) { updateApiKey(provider: "mesa", id: $id, patch: { setTags: [{ key: "r", value: "1" }] }) { id } }',
        variables: { id },
      }),
    });
    const text = await res.text();
    recordSeen(text);
    return JSON.parse(text);
  };

  it('serves /metrics on its own port when metrics.port is set, and not on the main port', async () => {
    expect(new URL(keygate.metricsUrl).port).not.toBe(new URL(keygate.url).port);
    expect(await scrape(keygate.metricsUrl)).toContain('keygate_config_reloads_total');
    const main = await fetch(`${new URL(keygate.url).origin}/metrics`);
    expect(main.status).toBe(404);
  });

  it('rotates a credential without dropping a call in flight; a bad reload keeps serving the good config', async () => {
    sim.inject({ method: 'PATCH', delayMs: 200, times: 5 });
    const inFlight = Array.from({ length: 5 }, () => update('key_a'));
    // All five are at the vendor (recorded on arrival, then held 200 ms) before the reload.
    await until(() => sim.requests.length === 5);
    writeFileSync(file, yaml(NEW));
    expect(await keygate.reload()).toBe(true);
    const results = await Promise.all(inFlight);
    for (const r of results) expect(r.errors).toBeUndefined();
    // The calls in flight finished with the old credential; new ones use the new one only.
    expect(sim.requests.slice(0, 5).map((r) => r.headers.authorization)).toEqual(Array(5).fill(`Bearer ${OLD}`));
    delete tokens[OLD];
    expect((await update('key_b')).errors).toBeUndefined();
    expect(sim.requests.at(-1)!.headers.authorization).toBe(`Bearer ${NEW}`);

    writeFileSync(file, 'providers:\n  mesa:\n    kind: mesa\n    org: acme\n');
    expect(await keygate.reload()).toBe(false);
    expect(logs.some((l) => l.includes('config reload failed') && l.includes('providers.mesa.token: required'))).toBe(true);
    expect((await update('key_b')).errors).toBeUndefined();
    const text = await scrape(keygate.metricsUrl);
    expect(metric(text, 'keygate_config_reloads_total', { result: 'success' })).toBe(1);
    expect(metric(text, 'keygate_config_reloads_total', { result: 'failure' })).toBe(1);
    tokens[OLD] = ['admin'];
  });

  it('reloads on SIGHUP in a real process', async () => {
    const f = join(dir, 'sighup.yaml');
    writeFileSync(f, yaml(OLD).replace('  port: 0\n', '  port: 0\n'));
    const child = spawn(process.execPath, ['src/main.ts', '--config', f, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    await until(() => out.includes('keygate listening on'));
    writeFileSync(f, yaml(NEW));
    child.kill('SIGHUP');
    await until(() => out.includes('config reloaded'));
    child.kill('SIGTERM');
    expect(await new Promise((r) => child.on('exit', r))).toBe(0);
    recordSeen(out);
  });

  it('--check-config prints the resolved config with secrets redacted (exit 0), or the problems (exit 1)', async () => {
    const ok = join(dir, 'ok.yaml');
    writeFileSync(ok, yaml(NEW));
    const good = await run(['src/main.ts', '--check-config', ok]);
    expect(good.code).toBe(0);
    expect(good.out).toContain('token: "[redacted]"');
    expect(good.out).toContain('timeoutMs: 5000');
    expect(good.out).not.toContain(NEW);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, `providers:\n  mesa:\n    kind: mesa\n    token: ${NEW}\n`);
    const res = await run(['src/main.ts', '--check-config', bad]);
    expect(res.code).toBe(1);
    expect(res.out).toContain('providers.mesa.org: required');
    expect(res.out).not.toContain(NEW);
  });
});
