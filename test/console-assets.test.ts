/**
 * Issue 18: the console's built assets and how keygate serves them, in-process (the browser
 * tests are test/console.browser.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createSchema, createYoga } from 'graphql-yoga';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../src/config/schema.ts';
import { consoleDistDir, loadConsoleAssets, useConsole } from '../src/http/console-assets.ts';
import { createLogger } from '../src/observability/log.ts';
import { startGateway } from './harness.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const schema = createSchema({ typeDefs: 'type Query { ok: Boolean }' });
const quiet = createLogger({ level: 'silent' });

function yogaWith(dir: string, keyHints?: Record<string, string[]>) {
  // biome-ignore lint/correctness/useHookAtTopLevel: useConsole is a yoga plugin factory (yoga names plugins use*), not a React hook.
  return createYoga({ schema, plugins: [useConsole({ log: quiet, dir, keyHints })], logging: false });
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'console/dist/index.html'))) execFileSync('npm', ['run', 'build:console'], { cwd: ROOT, stdio: 'ignore' });
}, 60_000);

describe('console assets', () => {
  it('finds console/dist from the project root', () => {
    expect(consoleDistDir()).toBe(join(ROOT, 'console', 'dist'));
  });

  it('keeps the gzipped JavaScript and CSS within 300 KB', () => {
    const assets = loadConsoleAssets(consoleDistDir());
    let gzipped = 0;
    for (const [name, asset] of assets) if (/\.(js|css)$/.test(name)) gzipped += gzipSync(asset.body).length;
    expect(gzipped).toBeGreaterThan(0);
    expect(gzipped).toBeLessThanOrEqual(300 * 1024);
  });

  it('serves a file only under its own name: other paths with an extension are 404, others the app', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-console-'));
    try {
      writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title>');
      writeFileSync(join(dir, 'secret.txt'), 'outside');
      const yoga = yogaWith(join(dir));
      const get = (path: string) => yoga.fetch(`http://127.0.0.1${path}`);
      expect(await (await get('/console/providers/x/keys/..%2F..%2Fsecret.txt')).text()).toBe('not found');
      expect((await get('/console/../secret.txt')).status).toBe(404);
      expect(await (await get('/console/providers/tyk')).text()).toContain('<title>app</title>');
      expect((await get('/consoleX')).status).toBe(404);
      const head = await yoga.fetch('http://127.0.0.1/console/', { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves the key ids to suggest (the sandbox demo keys), and none by default', async () => {
    const dist = consoleDistDir();
    expect(await (await yogaWith(dist, { basic: ['b-1'] }).fetch('http://127.0.0.1/console/key-hints.json')).json()).toEqual({ basic: ['b-1'] });
    const none = await yogaWith(dist).fetch('http://127.0.0.1/console/key-hints.json');
    expect(none.headers.get('content-type')).toBe('application/json');
    expect(await none.json()).toEqual({});
  });

  it('answers 503 with the fix when the console was never built', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-console-'));
    try {
      const res = await yogaWith(dir).fetch('http://127.0.0.1/console/');
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('npm run build:console');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is off by default (no /console at all), on with server.console: true; a non-boolean names its path', async () => {
    const providers = { mesa: { kind: 'mesa', baseUrl: 'http://127.0.0.1:9', org: 'acme', token: 'mesa-token-never-used' } };
    expect(resolveConfig({ providers }).server.console).toBe(false);
    expect(() => resolveConfig({ providers, server: { console: 'yes' } })).toThrow(ConfigError);
    expect(() => resolveConfig({ providers, server: { console: 'yes' } })).toThrow(/server\.console: /);
    const off = await startGateway({ providers, audit: false });
    const on = await startGateway({ providers, audit: false, server: { console: true } });
    try {
      expect((await off.fetch('/console/')).status).toBe(404);
      const res = await on.fetch('/console/');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    } finally {
      await off.close();
      await on.close();
    }
  });

  it('Query.viewer: the caller and its scopes; the open loopback caller holds every scope', async () => {
    const providers = { mesa: { kind: 'mesa', baseUrl: 'http://127.0.0.1:9', org: 'acme', token: 'mesa-token-never-used' } };
    const open = await startGateway({ providers, audit: false });
    const token = 'viewer-test-token-0123456789';
    const withAuth = await startGateway({ providers, audit: false, auth: { tokens: [{ name: 'ops', token, scopes: ['keys:read', 'keys:write:mesa'] }] } });
    try {
      expect((await open.gql('{ viewer { name scopes } }')).body.data!.viewer).toEqual({
        name: 'anonymous@loopback',
        scopes: ['keys:read:*', 'keys:write:*', 'audit:read:*'],
      });
      expect((await withAuth.as(token)('{ viewer { name scopes } }')).body.data!.viewer).toEqual({
        name: 'token:ops',
        scopes: ['keys:read:*', 'keys:write:mesa'],
      });
      const anonymous = await withAuth.gql('{ viewer { name } }');
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.errors![0].extensions.code).toBe('UNAUTHENTICATED');
    } finally {
      await open.close();
      await withAuth.close();
    }
  });
});
