/**
 * Issue 5: caller authentication (static tokens, sha256 tokens, JWTs) and per-provider scopes,
 * over real loopback HTTP; a refused caller never causes a vendor call.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey as JoseKey } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { basicKey, createBasicSimulator, type BasicSimulator } from '../providers/basic/simulator.ts';
import { createMesaSimulator, demoKey, type MesaSimulator } from '../providers/mesa/simulator.ts';
import { callerName } from '../src/auth/scopes.ts';
import { ConfigError, resolveConfig } from '../src/config/schema.ts';
import { loadConfigFile } from '../src/config/load.ts';
import { startKeygate, startupProblems } from '../src/app.ts';
import { recordSeen, registerSecret, run, startGateway, until, UPDATE, type TestGateway } from './harness.ts';

const S = { mesa: 'mesa_auth_token_0011aabb', basic: 'basic_auth_token_2233ccdd' };
const T = {
  admin: 'kg_admin_token_9f8e7d6c5b4a3210',
  basicWriter: 'kg_basic_writer_token_00aa11bb22',
  reader: 'kg_reader_token_33cc44dd55ee66',
  auditor: 'kg_auditor_token_77ff88gg99hh00',
  wildcard: 'kg_wildcard_writer_token_1234abcd',
  rotated: 'kg_rotated_token_after_reload_5678',
};
registerSecret(...Object.values(S), ...Object.values(T));
const sha = (t: string) => createHash('sha256').update(t).digest('hex');

let mesa: MesaSimulator;
let basic: BasicSimulator;
const providers = () => ({
  mesa: { kind: 'mesa', baseUrl: mesa.baseUrl, org: 'acme', token: S.mesa },
  basic: { kind: 'basic', baseUrl: basic.baseUrl, project: 'p1', token: S.basic },
});
const tokens = [
  { name: 'admin', token: T.admin, scopes: ['keys:read', 'keys:write', 'audit:read'] },
  { name: 'basic-writer', token: T.basicWriter, scopes: ['keys:write:basic'] },
  // Configured by digest only: the plaintext never appears in the config.
  { name: 'reader', sha256: sha(T.reader), scopes: ['keys:read:*'] },
  { name: 'auditor', token: T.auditor, scopes: ['audit:read'] },
  { name: 'wildcard', token: T.wildcard, scopes: ['keys:write:*'] },
];

beforeAll(async () => {
  mesa = await createMesaSimulator({ org: 'acme', tokens: { [S.mesa]: ['admin'] }, keys: [demoKey('key_a', 'A', { team: 'x' })] });
  basic = await createBasicSimulator({ projects: { p1: { tokens: [S.basic] } }, keys: { p1: [basicKey('b-1', 'Mobile', 'read')] } });
});
afterAll(async () => {
  await Promise.all([mesa?.close(), basic?.close()]);
});
beforeEach(() => {
  mesa.reset();
  basic.reset();
});

const upstreamCalls = () => mesa.requests.length + basic.requests.length;
const MESA_UPDATE = { provider: 'mesa', id: 'key_a', patch: { setTags: [{ key: 'k', value: 'v' }] } };
const BASIC_UPDATE = { provider: 'basic', id: 'b-1', patch: { name: 'renamed' } };

describe('static tokens and scopes', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ providers: providers(), auth: { tokens } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('answers a request without a token with HTTP 401, WWW-Authenticate and UNAUTHENTICATED, and sends nothing upstream', async () => {
    const res = await gw.gql(UPDATE, MESA_UPDATE);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="keygate"');
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors![0].extensions).toEqual({ code: 'UNAUTHENTICATED', requestId: expect.any(String) });
    expect(upstreamCalls()).toBe(0);
  });

  it.each([
    ['a wrong token', `Bearer ${T.admin}x`, 'invalid_token'],
    ['a prefix of a valid token', `Bearer ${T.admin.slice(0, -1)}`, 'invalid_token'],
    ['another scheme', `Basic ${Buffer.from(`admin:${T.admin}`).toString('base64')}`, 'invalid_request'],
    ['a token with a space', `Bearer ${T.admin} extra`, 'invalid_request'],
  ])('refuses %s with 401 and sends nothing', async (_what, authorization, error) => {
    const res = await gw.gql(UPDATE, MESA_UPDATE, { authorization });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="keygate", error="${error}"`);
    expect(res.body.errors![0].extensions.code).toBe('UNAUTHENTICATED');
    expect(upstreamCalls()).toBe(0);
  });

  it('accepts a valid token (the Bearer scheme is case-insensitive)', async () => {
    const res = await gw.gql(UPDATE, MESA_UPDATE, { authorization: `bearer ${T.admin}` });
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(mesa.writes()).toHaveLength(1);
  });

  it('accepts a token configured by its sha256 only', async () => {
    const res = await gw.as(T.reader)('{ apiKey(provider: "basic", id: "b-1") { id name } }');
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toEqual({ apiKey: { id: 'b-1', name: 'Mobile' } });
  });

  it('refuses with FORBIDDEN, sending nothing, when the scope does not cover the provider', async () => {
    const res = await gw.as(T.basicWriter)(UPDATE, MESA_UPDATE);
    expect(res.status).toBe(200);
    expect(res.body.data).toBeNull();
    expect(res.body.errors![0].extensions).toMatchObject({ code: 'FORBIDDEN', provider: 'mesa', scope: 'keys:write:mesa' });
    expect(res.body.errors![0].message).toBe('caller "token:basic-writer" lacks scope keys:write:mesa on provider "mesa"; nothing was sent');
    expect(upstreamCalls()).toBe(0);
    const ok = await gw.as(T.basicWriter)(UPDATE, BASIC_UPDATE);
    expect(ok.body.errors).toBeUndefined();
    expect(basic.writes()).toHaveLength(1);
  });

  it('keys:write:* covers every provider', async () => {
    for (const u of [MESA_UPDATE, BASIC_UPDATE]) expect((await gw.as(T.wildcard)(UPDATE, u)).body.errors).toBeUndefined();
    expect(upstreamCalls()).toBe(2);
  });

  it('keeps read, write and audit apart: a reader cannot update or preview, a writer cannot read, neither can read the audit log', async () => {
    const forbidden = async (token: string, query: string, variables?: Record<string, unknown>) => {
      const res = await gw.as(token)(query, variables);
      expect(res.body.errors?.[0].extensions.code, query).toBe('FORBIDDEN');
    };
    await forbidden(T.reader, 'mutation($p: ApiKeyPatch!) { updateApiKey(provider: "mesa", id: "key_a", patch: $p) { id } }', { p: MESA_UPDATE.patch });
    await forbidden(T.reader, '{ previewApiKeyUpdate(provider: "basic", id: "b-1", patch: { name: "x" }) { requests { url } } }');
    await forbidden(T.basicWriter, '{ apiKey(provider: "basic", id: "b-1") { id } }');
    await forbidden(T.basicWriter, '{ apiKeys(provider: "mesa", first: 1) { edges { cursor } } }');
    await forbidden(T.reader, '{ auditLog { edges { cursor } } }');
    await forbidden(T.wildcard, '{ auditLog { edges { cursor } } }');
    await forbidden(T.auditor, '{ apiKey(provider: "basic", id: "b-1") { id } }');
    expect(upstreamCalls()).toBe(0);
  });

  it('decides FORBIDDEN before UNKNOWN_PROVIDER, so a narrowed caller learns nothing about other connections', async () => {
    const narrowed = await gw.as(T.basicWriter)(UPDATE, { ...MESA_UPDATE, provider: 'nope' });
    expect(narrowed.body.errors![0].extensions.code).toBe('FORBIDDEN');
    expect(narrowed.body.errors![0].message).not.toContain('configured');
    const wide = await gw.as(T.wildcard)(UPDATE, { ...MESA_UPDATE, provider: 'nope' });
    expect(wide.body.errors![0].extensions.code).toBe('UNKNOWN_PROVIDER');
  });

  it('fails only the bulk items the caller may not touch', async () => {
    const res = await gw.as(T.basicWriter)('mutation($u: [ApiKeyUpdateInput!]!) { updateApiKeys(updates: $u) { provider error { code } } }', {
      u: [MESA_UPDATE, BASIC_UPDATE],
    });
    expect(res.body.data!.updateApiKeys).toEqual([
      { provider: 'mesa', error: { code: 'FORBIDDEN' } },
      { provider: 'basic', error: null },
    ]);
    expect(mesa.requests).toHaveLength(0);
    expect(basic.writes()).toHaveLength(1);
  });

  it('lists only the providers the caller holds a scope on', async () => {
    const names = async (token: string) => (await gw.as(token)('{ providers { name } }')).body.data!.providers.map((p: { name: string }) => p.name);
    expect(await names(T.admin)).toEqual(['mesa', 'basic']);
    expect(await names(T.basicWriter)).toEqual(['basic']);
  });

  it('requires a valid token for introspection too', async () => {
    const query = '{ __schema { queryType { name } } }';
    expect((await gw.gql(query)).status).toBe(401);
    const res = await gw.as(T.reader)(query);
    expect(res.body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
  });

  it('refuses a token in the query string with 401, even alongside a valid header, and never logs it', async () => {
    for (const param of ['access_token', 'token', 'api_key', 'Authorization']) {
      const res = await gw.fetch(`/graphql?${param}=${T.admin}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${T.admin}` },
        body: JSON.stringify({ query: '{ providers { name } }' }),
      });
      expect(res.status, param).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_request"');
      expect(JSON.parse(res.text).errors[0].message).toContain('query string');
    }
    expect(gw.logs.join('\n')).not.toContain(T.admin);
  });

  it('serves /health and /ready without a token (no GraphQL, nothing to protect)', async () => {
    expect((await gw.fetch('/health')).status).toBe(200);
    expect((await gw.fetch('/ready')).status).toBe(200);
  });

  it('puts the caller name, never the token, in the log lines of a request', async () => {
    await gw.as(T.admin)(UPDATE, MESA_UPDATE, { 'x-request-id': 'auth-log-line-1' });
    const raw = gw.logs.filter((l) => l.includes('auth-log-line-1'));
    const lines = raw.map((l) => JSON.parse(l));
    const op = lines.find((l) => l.msg === 'key operation');
    // Each field once: JSON.parse keeps the last of repeated keys, log shippers may not.
    expect(raw.find((l) => l.includes('"key operation"'))?.match(/"caller":/g)).toHaveLength(1);
    expect(op).toMatchObject({
      requestId: 'auth-log-line-1',
      caller: 'token:admin',
      provider: 'mesa',
      keyId: 'key_a',
      code: 'OK',
      status: 200,
      operation: 'update',
    });
    expect(op.durationMs).toEqual(expect.any(Number));
  });
});

describe('JWT callers', () => {
  let gw: TestGateway;
  let jwksGw: TestGateway;
  let jwksServer: Server;
  let privateKey: JoseKey;
  let otherKey: JoseKey;
  const ISSUER = 'https://idp.test/';
  const sign = (claims: Record<string, unknown>, opts: { key?: JoseKey; exp?: string; aud?: string; iss?: string; kid?: string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', ...(opts.kid && { kid: opts.kid }) })
      .setIssuer(opts.iss ?? ISSUER)
      .setAudience(opts.aud ?? 'keygate')
      .setSubject('svc-dashboard')
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '5m')
      .sign(opts.key ?? privateKey);

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    privateKey = pair.privateKey;
    otherKey = (await generateKeyPair('ES256')).privateKey;
    gw = await startGateway({
      providers: providers(),
      auth: { jwt: { issuer: ISSUER, audience: 'keygate', publicKey: await exportSPKI(pair.publicKey), algorithms: ['ES256'] } },
    });
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
    jwksGw = await startGateway({
      providers: providers(),
      auth: { tokens: [tokens[0]], jwt: { issuer: ISSUER, audience: 'keygate', jwksUrl, algorithms: ['ES256'], scopesClaim: 'scp' } },
    });
  });
  afterAll(async () => {
    await Promise.all([gw?.close(), jwksGw?.close()]);
    jwksServer?.close();
  });

  it('accepts a signed JWT and takes its scopes from the `scope` claim', async () => {
    const jwt = await sign({ scope: 'keys:read keys:write:basic' });
    registerSecret(jwt);
    expect((await gw.as(jwt)(UPDATE, BASIC_UPDATE)).body.errors).toBeUndefined();
    const denied = await gw.as(jwt)(UPDATE, MESA_UPDATE);
    expect(denied.body.errors![0].extensions.code).toBe('FORBIDDEN');
    expect(denied.body.errors![0].message).toContain('caller "jwt:https://idp.test/#svc-dashboard" lacks scope');
    expect(mesa.requests).toHaveLength(0);
  });

  it.each([
    ['expired', () => sign({ scope: 'keys:write' }, { exp: '-10m' })],
    ['for another audience', () => sign({ scope: 'keys:write' }, { aud: 'someone-else' })],
    ['from another issuer', () => sign({ scope: 'keys:write' }, { iss: 'https://evil.test/' })],
    ['signed by another key', () => sign({ scope: 'keys:write' }, { key: otherKey })],
    [
      'unsigned (alg none)',
      async () =>
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: ISSUER, aud: 'keygate', sub: 'x', scope: 'keys:write', exp: 9999999999 })).toString('base64url')}.`,
    ],
  ])('refuses a JWT %s with 401', async (_what, make) => {
    const jwt = await make();
    const res = await gw.as(jwt)(UPDATE, MESA_UPDATE);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('invalid_token');
    expect(upstreamCalls()).toBe(0);
  });

  it('verifies against a JWKS URL, with scopes in a list claim, beside static tokens', async () => {
    const jwt = await sign({ scp: ['keys:write:mesa'] }, { kid: 'k1' });
    expect((await jwksGw.as(jwt)(UPDATE, MESA_UPDATE)).body.errors).toBeUndefined();
    expect((await jwksGw.as(jwt)(UPDATE, BASIC_UPDATE)).body.errors![0].extensions.code).toBe('FORBIDDEN');
    expect((await jwksGw.as(T.admin)(UPDATE, BASIC_UPDATE)).body.errors).toBeUndefined();
  });
});

describe('caller names', () => {
  it('namespace each source, so no token name, issuer or subject can spell another caller', () => {
    expect(callerName.token('admin')).toBe('token:admin');
    expect(callerName.jwt('https://idp.test/', 'admin')).toBe('jwt:https://idp.test/#admin');
    // `%` and `#` are escaped in the issuer, so the first `#` always ends it.
    expect(callerName.jwt('https://idp.test/t#1%', 'a#b')).toBe('jwt:https://idp.test/t%231%25#a#b');
    const names = [
      callerName.token('admin'),
      callerName.jwt('https://idp.test/', 'admin'),
      callerName.jwt('https://idp.test/', 'token:admin'),
      callerName.jwt('https://idp.test/#x', 'y'),
      callerName.jwt('https://idp.test/', 'x#y'),
      callerName.jwt('https://idp.test/%23x', 'y'),
      callerName.jwt('jwt:https://idp.test/', 'admin'),
      'anonymous@loopback',
      callerName.token('anonymous@loopback'),
    ];
    expect(new Set(names).size).toBe(names.length);
  });

  it('refuses a token name that could pose as another namespace, naming the path', () => {
    for (const name of ['jwt:https://idp.test/#admin', 'token:admin', 'a#b']) {
      const doc = { providers: providers(), auth: { tokens: [{ name, token: T.admin, scopes: ['keys:read'] }] } };
      expect(() => resolveConfig(doc), name).toThrow(/auth\.tokens\.0\.name: must be 1\.\.64 of letters, digits, \. _ @ -/);
    }
  });
});

describe('configuration and start-up', () => {
  const doc = () => ({ providers: providers() });

  it('names the path of every auth problem', () => {
    let err: ConfigError | undefined;
    try {
      resolveConfig({
        ...doc(),
        auth: {
          tokens: [
            { name: 'a', token: 'short', scopes: ['keys:write'] },
            { name: 'b', token: T.admin, sha256: sha(T.admin), scopes: ['keys:read'] },
            { name: 'c', token: T.reader, scopes: ['keys:write:atlas', 'keys:delete'] },
            { name: 'c', sha256: 'abc', scopes: [] },
          ],
        },
      });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems).toEqual(
      expect.arrayContaining([
        'auth.tokens.0.token: must be at least 16 characters',
        'auth.tokens.1: needs exactly one of token or sha256',
        expect.stringMatching(/^auth\.tokens\.2\.scopes\.1: must be keys:read, keys:write or audit:read/),
        'auth.tokens.3.sha256: must be 64 hex digits: the SHA-256 of the token',
        'auth.tokens.3.scopes: must list at least one scope',
      ]),
    );
    expect(() => resolveConfig({ ...doc(), auth: { tokens: [{ name: 'c', token: T.reader, scopes: ['keys:write:atlas'] }] } })).toThrow(
      /auth\.tokens\.0\.scopes\.0: provider "atlas" is not configured \(configured: mesa, basic\)/,
    );
    expect(() => resolveConfig({ ...doc(), auth: {} })).toThrow(/auth: needs tokens, jwt or both/);
    expect(JSON.stringify(err!.problems)).not.toContain(T.admin);
  });

  it('refuses a non-loopback host without auth, and NODE_ENV=development outside the sandbox', async () => {
    const open = resolveConfig({ ...doc(), audit: false });
    await expect(startKeygate({ config: open, port: 0, host: '0.0.0.0' })).rejects.toThrow(
      /--host 0\.0\.0\.0: without an `auth` section keygate serves loopback hosts only/,
    );
    const secured = resolveConfig({ ...doc(), audit: false, auth: { tokens } });
    expect(startupProblems(secured, '0.0.0.0')).toEqual([]);
    for (const host of ['127.0.0.1', '::1', 'localhost', '127.0.0.2']) expect(startupProblems(open, host), host).toEqual([]);
    expect(startupProblems(open, '127.0.0.1', { env: { NODE_ENV: 'development' } })[0]).toMatch(/^NODE_ENV=development: refused/);
    expect(startupProblems(open, '127.0.0.1', { env: { NODE_ENV: 'development' }, sandbox: true })).toEqual([]);
  });

  it('in a real process: says at start-up that it is open on loopback, and exits 1 for --host 0.0.0.0 without auth', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-auth-cli-'));
    const file = join(dir, 'keygate.yaml');
    writeFileSync(file, `providers:\n  mesa:\n    kind: mesa\n    baseUrl: ${mesa.baseUrl}\n    org: acme\n    token: ${S.mesa}\naudit: false\n`);
    const refused = await run(['src/main.ts', '--config', file, '--host', '0.0.0.0', '--port', '0']);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain('without an `auth` section keygate serves loopback hosts only');
    const dev = await run(['src/main.ts', '--config', file, '--port', '0'], { NODE_ENV: 'development' });
    expect(dev.code).toBe(1);
    expect(dev.out).toContain('NODE_ENV=development: refused outside sandbox mode');

    const child = spawn(process.execPath, ['src/main.ts', '--config', file, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    await until(() => out.includes('keygate listening on'));
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    recordSeen(out);
    expect(out).toContain('(no `auth` section: loopback only, every caller holds every scope)');
    expect(out).toContain('serving loopback only');
  });

  it('without auth, answers only requests addressed to a loopback Host (DNS rebinding guard)', async () => {
    const gw = await startGateway({ providers: providers() });
    try {
      const post = (host: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const u = new URL(gw.url);
          const req = httpRequest(
            { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { host, 'content-type': 'application/json' } },
            (res) => {
              let body = '';
              res.on('data', (d) => (body += d));
              res.on('end', () => resolve({ status: res.statusCode!, body }));
            },
          );
          req.on('error', reject);
          req.end(JSON.stringify({ query: '{ providers { name } }' }));
        });
      const evil = await post('attacker.example:4000');
      recordSeen(evil.body);
      expect(evil.status).toBe(403);
      expect(JSON.parse(evil.body).errors[0].extensions.code).toBe('FORBIDDEN');
      for (const host of [`127.0.0.1:${new URL(gw.url).port}`, 'localhost:4000', '[::1]:4000']) expect((await post(host)).status, host).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('rotates caller tokens on reload: the old token stops working, the new one works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-auth-reload-'));
    const file = join(dir, 'keygate.yaml');
    const yaml = (token: string) =>
      `providers:\n  mesa:\n    kind: mesa\n    baseUrl: ${mesa.baseUrl}\n    org: acme\n    token: ${S.mesa}\n` +
      `auth:\n  tokens:\n    - name: ops\n      token: ${token}\n      scopes: [keys:write]\naudit: false\n`;
    writeFileSync(file, yaml(T.admin));
    const keygate = await startKeygate({ config: loadConfigFile(file), port: 0, configPath: file });
    const call = async (token: string) => {
      const res = await fetch(keygate.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: 'mutation { updateApiKey(provider: "mesa", id: "key_a", patch: { removeTags: ["zz"] }) { id } }' }),
      });
      recordSeen(await res.text());
      return res.status;
    };
    try {
      expect(await call(T.admin)).toBe(200);
      writeFileSync(file, yaml(T.rotated));
      expect(await keygate.reload()).toBe(true);
      expect(await call(T.admin)).toBe(401);
      expect(await call(T.rotated)).toBe(200);
    } finally {
      await keygate.close();
    }
  });
});
