import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/schema.ts';
import { parseConfig } from '../src/config/load.ts';

function problems(yaml: string, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(yaml, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

/** `src/main.ts --config <yaml>` run to its exit: the exit code and everything it printed. */
async function startWith(yaml: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const file = join(mkdtempSync(join(tmpdir(), 'keygate-config-')), 'config.yaml');
  writeFileSync(file, yaml);
  const child = spawn(process.execPath, ['src/main.ts', '--config', file, '--port', '0'], { env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  return { code, out };
}

describe('config', () => {
  it('expands ${VAR} in any string and applies defaults', () => {
    const config = parseConfig(
      `providers:\n  atlas:\n    kind: atlas\n    orgId: \${ORG}\n    publicKey: pub\n    privateKey: \${ATLAS_KEY}\n  tyk:\n    kind: tyk\n    baseUrl: http://tyk.internal:3000/\n    adminSecret: s3cret-admin\n    timeoutMs: 2500\n`,
      { ORG: 'org-1', ATLAS_KEY: 'priv-key-123' },
    );
    const atlas = config.providers.get('atlas')!;
    expect(atlas.settings).toEqual({ baseUrl: 'https://cloud.mongodb.com/api/atlas/v2', orgId: 'org-1', publicKey: 'pub', privateKey: 'priv-key-123' });
    expect(atlas.timeoutMs).toBe(5_000);
    expect(atlas).toMatchObject({
      deadlineMs: 15_000,
      retry: { attempts: 3, maxDelayMs: 10_000 },
      maxConcurrency: 8,
      circuitBreaker: { failures: 5, cooldownMs: 30_000 },
    });
    expect(config.providers.get('tyk')!.settings.baseUrl).toBe('http://tyk.internal:3000');
    expect(config.providers.get('tyk')!.timeoutMs).toBe(2500);
    expect(config.secrets.sort()).toEqual(['priv-key-123', 's3cret-admin']);
  });

  it.each([
    ['a missing field', 'providers:\n  atlas:\n    kind: atlas\n    publicKey: p\n    privateKey: k\n', 'providers.atlas.orgId: required'],
    ['an unknown kind', 'providers:\n  x:\n    kind: stripe\n', 'providers.x.kind: '],
    ['a mistyped field', 'providers:\n  m:\n    kind: mesa\n    org: 42\n    token: t\n', 'providers.m.org: '],
    ['an unknown field', 'providers:\n  m:\n    kind: mesa\n    org: o\n    token: t\n    tokn: t\n', 'providers.m: unknown field(s) tokn'],
    ['a bad URL', 'providers:\n  m:\n    kind: mesa\n    org: o\n    token: t\n    baseUrl: ftp://x\n', 'providers.m.baseUrl: must be an absolute http(s) URL'],
    ['a URL with credentials', 'providers:\n  m:\n    kind: mesa\n    org: o\n    token: t\n    baseUrl: https://u:p@x\n', 'providers.m.baseUrl: '],
    ['tyk without baseUrl', 'providers:\n  t:\n    kind: tyk\n    adminSecret: s\n', 'providers.t.baseUrl: required (tyk has no default URL)'],
    ['a missing ${VAR}', 'providers:\n  m:\n    kind: mesa\n    org: o\n    token: ${NOPE}\n', 'providers.m.token: environment variable NOPE is not set'],
    ['no providers', 'providers: {}\n', 'providers: required'],
    [
      'a bad provider name',
      'providers:\n  __proto__x:\n    kind: mesa\n    org: o\n    token: t\n',
      'providers.__proto__x: a provider name must start with a letter',
    ],
    ['a bad timeout', 'providers:\n  m:\n    kind: mesa\n    org: o\n    token: t\n    timeoutMs: -1\n', 'providers.m.timeoutMs: '],
    [
      'atlas with both credential sets',
      'providers:\n  a:\n    kind: atlas\n    orgId: o\n    clientId: c\n    clientSecret: s\n    publicKey: p\n    privateKey: k\n',
      'providers.a: set exactly one credential set',
    ],
    ['atlas with no credential set', 'providers:\n  a:\n    kind: atlas\n    orgId: o\n', 'providers.a: needs a credential set'],
    [
      'atlas with half a service account',
      'providers:\n  a:\n    kind: atlas\n    orgId: o\n    clientId: c\n',
      'providers.a.clientSecret: required with clientId',
    ],
    [
      'an atlas baseUrl naming no version',
      'providers:\n  a:\n    kind: atlas\n    orgId: o\n    clientId: c\n    clientSecret: s\n    baseUrl: https://cloud.mongodb.com/api/atlas/v1.5\n',
      'providers.a.baseUrl: must end in /api/atlas/v2',
    ],
    [
      'tyk with two credentials',
      'providers:\n  t:\n    kind: tyk\n    baseUrl: http://tyk:3000\n    apiKey: k\n    adminSecret: s\n',
      'providers.t: set exactly one credential: apiKey (api: dashboard), secret (api: gateway) or adminSecret (api: dashboard-admin); got apiKey, adminSecret',
    ],
    [
      'tyk with a credential not matching api',
      'providers:\n  t:\n    kind: tyk\n    baseUrl: http://tyk:8080\n    api: gateway\n    apiKey: k\n',
      'providers.t.apiKey: does not match api: gateway, which takes secret',
    ],
    [
      'tyk hashedKeyIds without api: gateway',
      'providers:\n  t:\n    kind: tyk\n    baseUrl: http://tyk:3000\n    apiKey: k\n    hashedKeyIds: true\n',
      'providers.t.hashedKeyIds: applies to api: gateway only',
    ],
    ['an unknown tyk api', 'providers:\n  t:\n    kind: tyk\n    baseUrl: http://tyk:3000\n    api: portal\n    apiKey: k\n', 'providers.t.api: '],
    ['an unknown section', 'providers:\n  m:\n    kind: mesa\n    org: o\n    token: t\nproviderz: {}\n', 'providerz: unknown section'],
  ])('refuses %s, naming the path', (_what, yaml, expected) => {
    expect(problems(yaml).some((p) => p.startsWith(expected))).toBe(true);
  });

  it('never prints a credential value in a problem', () => {
    const p = problems('providers:\n  m:\n    kind: mesa\n    org: 12\n    token: super-secret-token-value\n    timeoutMs: oops\n');
    expect(p.length).toBeGreaterThan(0);
    expect(p.join('\n')).not.toContain('super-secret-token-value');
  });

  it('stops `npm start -- --config` with exit 1 and the path, before anything listens', async () => {
    const { code, out } = await startWith('providers:\n  atlas:\n    kind: atlas\n    publicKey: pub\n    privateKey: ${ATLAS_SECRET_X}\n', {
      ATLAS_SECRET_X: 'very-secret-value-77',
    });
    expect(code).toBe(1);
    expect(out).toContain('providers.atlas.orgId: required');
    expect(out).not.toContain('very-secret-value-77');
    expect(out).not.toContain('listening');
  });

  it('stops with exit 1 naming the path when a connection holds two credential sets', async () => {
    const { code, out } = await startWith(
      'providers:\n  atlas:\n    kind: atlas\n    orgId: o\n    clientId: c\n    clientSecret: ${ATLAS_SECRET_Y}\n    publicKey: p\n    privateKey: k-private-key\n',
      { ATLAS_SECRET_Y: 'very-secret-value-88' },
    );
    expect(code).toBe(1);
    expect(out).toContain('providers.atlas: set exactly one credential set');
    expect(out).not.toContain('very-secret-value-88');
  });
});
