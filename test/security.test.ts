/**
 * Issue 5: a hostile client against the hardened edge. Every attack below is refused — with
 * nothing sent to any vendor — and every response and log line goes through the suite-wide
 * secret scan (test/harness.ts).
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { basicKey, createBasicSimulator, type BasicSimulator } from '../providers/basic/simulator.ts';
import { createMesaSimulator, demoKey, type MesaSimulator } from '../providers/mesa/simulator.ts';
import { createTykSimulator, demoSession, type TykSimulator } from '../providers/tyk/simulator.ts';
import { ConfigError } from '../src/config/schema.ts';
import { parseConfig } from '../src/config/load.ts';
import { createLogger } from '../src/observability/log.ts';
import { recordSeen, registerSecret, startGateway, type TestGateway } from './harness.ts';

const S = { mesa: 'mesa_security_token_1a2b3c4d', basic: 'basic_security_token_5e6f7a8b', tyk: 'tyk_security_secret_9c0d1e2f' };
const CALLER = 'kg_security_caller_token_3a4b5c6d7e';
registerSecret(...Object.values(S), CALLER);
const TYK_KEY = '5e9d9544a1dcd60001d0ed20abababababababababababababababab';

let mesa: MesaSimulator;
let basic: BasicSimulator;
let tyk: TykSimulator;
let gw: TestGateway;
const sims = () => [mesa, basic, tyk];
const upstreamCalls = () => sims().reduce((n, s) => n + s.requests.length, 0);
const providers = () => ({
  mesa: { kind: 'mesa', baseUrl: mesa.baseUrl, org: 'acme', token: S.mesa },
  basic: { kind: 'basic', baseUrl: basic.baseUrl, project: 'p1', token: S.basic },
  tyk: { kind: 'tyk', baseUrl: tyk.baseUrl, adminSecret: S.tyk },
});
const as = (query: string, variables?: Record<string, unknown>, headers?: Record<string, string>) => gw.as(CALLER)(query, variables, headers);

beforeAll(async () => {
  mesa = await createMesaSimulator({ org: 'acme', tokens: { [S.mesa]: ['admin'] }, keys: [demoKey('key_a', 'A', {})] });
  basic = await createBasicSimulator({ projects: { p1: { tokens: [S.basic] } }, keys: { p1: [basicKey('b-1', 'Mobile', 'read')] } });
  tyk = await createTykSimulator({ adminSecret: S.tyk, keys: { [TYK_KEY]: demoSession('sec', ['t']) } });
  gw = await startGateway({
    providers: providers(),
    auth: { tokens: [{ name: 'ops', token: CALLER, scopes: ['keys:read', 'keys:write', 'audit:read'] }] },
  });
});
afterAll(async () => {
  await gw?.close();
  await Promise.all(sims().map((s) => s?.close()));
});
beforeEach(() => {
  for (const s of sims()) s.reset();
});

const codeOf = (res: { body: { errors?: { extensions: Record<string, any> }[] } }) => res.body.errors?.[0]?.extensions.code;

describe('hostile ids, tags and names', () => {
  const HOSTILE_IDS = [
    '..',
    '.',
    '%2e%2e',
    '%2E%2E%2F',
    'a/b',
    '../../admin',
    'a\\b',
    '..\\..',
    'a?b=c',
    'a#b',
    'a%00',
    'a b',
    'a\r\nX-Injected: 1',
    'a\nb',
    '\u0000',
    'x'.repeat(257),
    '',
  ];

  it.each(HOSTILE_IDS)('refuses id %j in updates, reads and previews with BAD_USER_INPUT, sending nothing', async (id) => {
    for (const provider of ['basic', 'tyk', 'mesa']) {
      const update = await as('mutation($p: String!, $id: ID!) { updateApiKey(provider: $p, id: $id, patch: { name: "x" }) { id } }', { p: provider, id });
      // Mesa cannot change `name`: the id is still checked first.
      expect(codeOf(update), `${provider} update`).toBe('BAD_USER_INPUT');
      expect(update.body.errors![0].extensions.field).toBe('id');
      const preview = await as('query($p: String!, $id: ID!) { previewApiKeyUpdate(provider: $p, id: $id, patch: { enabled: true }) { requests { url } } }', {
        p: provider,
        id,
      });
      expect(codeOf(preview), `${provider} preview`).toBe('BAD_USER_INPUT');
      const read = await as('query($p: String!, $id: ID!) { apiKey(provider: $p, id: $id) { id } }', { p: provider, id });
      expect(codeOf(read), `${provider} read`).toBe('BAD_USER_INPUT');
    }
    expect(upstreamCalls()).toBe(0);
  });

  it.each([
    ['a CR/LF in a tag key', { setTags: [{ key: 'team\r\nSet-Cookie: x=1', value: 'v' }] }, 'patch.setTags[0].key'],
    ['a LF in a tag value', { setTags: [{ key: 'team', value: 'a\nb' }] }, 'patch.setTags[0].value'],
    ['a NUL in a removed tag', { removeTags: ['a\u0000b'] }, 'patch.removeTags[0]'],
  ])('refuses %s before sending anything', async (_what, patch, field) => {
    const res = await as('mutation($p: ApiKeyPatch!) { updateApiKey(provider: "mesa", id: "key_a", patch: $p) { id } }', { p: patch });
    expect(res.body.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [field] });
    expect(upstreamCalls()).toBe(0);
  });

  it('refuses CR/LF in a name or role (Basic, Tyk)', async () => {
    for (const [provider, id, patch] of [
      ['basic', 'b-1', { name: 'a\r\nb' }],
      ['basic', 'b-1', { roles: ['read\n'] }],
      ['tyk', TYK_KEY, { name: 'x\ry' }],
    ] as const) {
      const res = await as('mutation($p: String!, $id: ID!, $patch: ApiKeyPatch!) { updateApiKey(provider: $p, id: $id, patch: $patch) { id } }', {
        p: provider,
        id,
        patch,
      });
      expect(codeOf(res), provider).toBe('BAD_USER_INPUT');
    }
    expect(upstreamCalls()).toBe(0);
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', '__defineGetter__'])(
    'answers provider %j with UNKNOWN_PROVIDER and no side effects',
    async (provider) => {
      const res = await as('mutation($p: String!) { updateApiKey(provider: $p, id: "key_a", patch: { name: "x" }) { id } }', { p: provider });
      expect(res.body.errors![0].extensions).toMatchObject({ code: 'UNKNOWN_PROVIDER', provider });
      const read = await as('query($p: String!) { apiKey(provider: $p, id: "key_a") { id } }', { p: provider });
      expect(codeOf(read)).toBe('UNKNOWN_PROVIDER');
      const list = await as('query($p: String!) { apiKeys(provider: $p) { edges { cursor } } }', { p: provider });
      expect(codeOf(list)).toBe('UNKNOWN_PROVIDER');
      const audit = await as('query($p: String!) { auditLog(filter: { provider: $p }) { edges { cursor } } }', { p: provider });
      expect(audit.body.errors).toBeUndefined();
      expect(upstreamCalls()).toBe(0);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
  );

  it('handles `__proto__` and `constructor` as provider names in the config: refused, or an ordinary name', async () => {
    const yaml = (name: string) =>
      `providers:\n  ${name}:\n    kind: basic\n    baseUrl: ${basic.baseUrl}\n    project: p1\n    token: ${S.basic}\naudit: false\n`;
    expect(() => parseConfig(yaml('__proto__'))).toThrow(ConfigError);
    expect(({} as Record<string, unknown>).kind).toBeUndefined();
    const named = await startGateway({
      providers: { constructor: { kind: 'basic', baseUrl: basic.baseUrl, project: 'p1', token: S.basic } },
      auth: { tokens: [{ name: 'ctor', token: CALLER, scopes: ['keys:write:constructor'] }] },
    });
    try {
      expect((await named.as(CALLER)(UPDATE_DOC, { provider: 'constructor', id: 'b-1', patch: { name: 'ctor' } })).body.errors).toBeUndefined();
      expect(codeOf(await named.as(CALLER)(UPDATE_DOC, { provider: 'toString', id: 'b-1', patch: { name: 'x' } }))).toBe('FORBIDDEN');
    } finally {
      await named.close();
    }
  });

  it('refuses a patch nested deeper than 32 levels (Tyk meta_data) before sending anything, without overflowing', async () => {
    const deep = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
    const body = `{"query":"mutation($p: ApiKeyPatch!) { updateApiKey(provider: \\"tyk\\", id: \\"${TYK_KEY}\\", patch: $p) { id } }","variables":{"p":{"tyk":{"meta_data":${deep}}}}}`;
    const res = await gw.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${CALLER}` }, body });
    const json = JSON.parse(res.text);
    expect(json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(json.errors[0].message).toContain('nests deeper than 32 levels');
    expect(upstreamCalls()).toBe(0);
  });

  it('refuses oversized inputs: a 300-character id, a 2,000-character Mesa tag', async () => {
    const long = await as(UPDATE_DOC, { provider: 'mesa', id: 'k'.repeat(300), patch: { removeTags: ['x'] } });
    expect(long.body.errors![0].message).toContain('at most 256 characters');
    const tag = await as(UPDATE_DOC, { provider: 'mesa', id: 'key_a', patch: { setTags: [{ key: 't', value: 'v'.repeat(2000) }] } });
    expect(codeOf(tag)).toBe('BAD_USER_INPUT');
    expect(upstreamCalls()).toBe(0);
  });
});

const UPDATE_DOC = 'mutation($provider: String!, $id: ID!, $patch: ApiKeyPatch!) { updateApiKey(provider: $provider, id: $id, patch: $patch) { id } }';

describe('request size and shape limits', () => {
  it('answers a body over 1 MiB with 413, whether it declares its length or is chunked', async () => {
    const body = JSON.stringify({ query: '{ providers { name } }', variables: { pad: 'x'.repeat(1_100_000) } });
    const declared = await gw.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${CALLER}` }, body });
    expect(declared.status).toBe(413);
    const chunked = await new Promise<number>((resolve, reject) => {
      const u = new URL(gw.url);
      const req = httpRequest(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${CALLER}`, 'transfer-encoding': 'chunked' },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        },
      );
      req.on('error', reject);
      for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.slice(i, i + 64 * 1024));
      req.end();
    });
    expect(chunked).toBe(413);
  });

  it('reads no more than a declared Content-Length (so a body within the limit is not counted again), and refuses a malformed one', async () => {
    // The body limit trusts a valid Content-Length (src/http/plugins/body-limit.ts) because Node's parser
    // stops there: a body larger than it declares is cut at the declared length, never parsed whole.
    const u = new URL(gw.url);
    const raw = (head: string, body: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(u.port), u.hostname, () => socket.end(`${head}\r\n${body}`));
        let out = '';
        socket.on('data', (d) => (out += d));
        socket.on('close', () => resolve(out));
        // The gateway may answer and close while the rest of an oversized body is still being sent.
        socket.on('error', (err) => (out ? resolve(out) : reject(err)));
      });
    const mutation = JSON.stringify({
      query: UPDATE_DOC,
      variables: { provider: 'mesa', id: 'key_1', patch: { setTags: [{ key: 'pad', value: 'x'.repeat(1_100_000) }] } },
    });
    const headers = `POST /graphql HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${CALLER}\r\n`;
    const understated = await raw(`${headers}Content-Length: 40\r\nConnection: close\r\n`, mutation);
    expect(understated.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    for (const length of ['Content-Length: 1x\r\n', 'Content-Length: 2\r\nContent-Length: 3\r\n', 'Content-Length: -2\r\n']) {
      const answer = await raw(`${headers}${length}`, '{}');
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    }
    expect(upstreamCalls()).toBe(0);
  });

  it('refuses an alias flood (more than 15) with 400 before executing anything', async () => {
    const flood = `{ ${Array.from({ length: 50 }, (_, i) => `k${i}: apiKey(provider: "basic", id: "b-1") { id }`).join(' ')} }`;
    const res = await as(flood);
    expect(res.status).toBe(400);
    expect(res.body.errors![0]).toMatchObject({
      message: 'Syntax Error: Aliases limit of 15 exceeded, found 50.',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    expect(upstreamCalls()).toBe(0);
    const bulkAliases = `mutation { ${Array.from({ length: 20 }, (_, i) => `u${i}: updateApiKey(provider: "basic", id: "b-1", patch: { name: "n${i}" }) { id }`).join(' ')} }`;
    expect((await as(bulkAliases)).status).toBe(400);
    expect(basic.requests).toHaveLength(0);
  });

  it('refuses a query over the token limit (5000) with 400', async () => {
    const res = await as(`{ ${Array.from({ length: 2000 }, () => 'providers { name }').join(' ')} }`);
    expect(res.status).toBe(400);
    expect(res.body.errors![0].message).toBe('Syntax Error: Token limit of 5000 exceeded.');
  });

  it('refuses a query nested deeper than the configured depth, and one over the cost limit', async () => {
    const tight = await startGateway({ providers: providers(), limits: { maxDepth: 3, maxCost: 40 } });
    try {
      const deep = await tight.gql('mutation { query { apiKeys(provider: "mesa") { edges { node { tags { key } } } } } }');
      expect(deep.status).toBe(400);
      expect(deep.body.errors![0].message).toMatch(/Syntax Error: Query depth limit of 3 exceeded/);
      const costly = await tight.gql(`{ ${Array.from({ length: 10 }, (_, i) => `p${i}: providers { name kind }`).join(' ')} }`);
      expect(costly.status).toBe(400);
      expect(costly.body.errors![0].message).toMatch(/Query Cost limit of 40 exceeded/);
      expect(upstreamCalls()).toBe(0);
    } finally {
      await tight.close();
    }
  });

  it('hides field suggestions when introspection is off, and refuses introspection then', async () => {
    const closed = await startGateway({ providers: providers(), server: { introspection: false } });
    try {
      const typo = await closed.gql('{ provider { name } }');
      expect(typo.body.errors![0].message).not.toContain('Did you mean');
      const intro = await closed.gql('{ __schema { types { name } } }');
      expect(intro.body.errors![0].message).toMatch(/introspection/i);
      expect(intro.body.data ?? null).toBeNull();
    } finally {
      await closed.close();
    }
    // With introspection on (and a valid token) the schema is no secret, so suggestions help.
    expect((await as('{ provider { name } }')).body.errors![0].message).toContain('Did you mean "providers"?');
  });
});

describe('CSRF and CORS', () => {
  const mutation = 'mutation { updateApiKey(provider: "basic", id: "b-1", patch: { name: "csrf" }) { id } }';

  it('refuses a mutation over GET: 403 without the CSRF header, 405 with it', async () => {
    const url = `/graphql?query=${encodeURIComponent(mutation)}`;
    expect((await gw.fetch(url, { headers: { authorization: `Bearer ${CALLER}` } })).status).toBe(403);
    expect((await gw.fetch(url, { headers: { authorization: `Bearer ${CALLER}`, 'x-graphql-yoga-csrf': '1' } })).status).toBe(405);
    expect(basic.requests).toHaveLength(0);
  });

  it.each([
    ['application/x-www-form-urlencoded', `query=${encodeURIComponent(mutation)}`],
    ['text/plain', JSON.stringify({ query: mutation })],
    ['multipart/form-data; boundary=x', `--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${JSON.stringify({ query: mutation })}\r\n--x--\r\n`],
  ])('refuses a %s POST (what a foreign form can send) without the CSRF header', async (type, body) => {
    const res = await gw.fetch('/graphql', { method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${CALLER}` }, body });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text).errors[0].message).toBe('Required CSRF header(s) not present');
    expect(basic.requests).toHaveLength(0);
  });

  it('does not parse multipart bodies at all (no uploads here), even with the CSRF header', async () => {
    const body = `--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${JSON.stringify({ query: mutation })}\r\n--x--\r\n`;
    const headers = { 'content-type': 'multipart/form-data; boundary=x', authorization: `Bearer ${CALLER}`, 'x-graphql-yoga-csrf': '1' };
    const res = await gw.fetch('/graphql', { method: 'POST', headers, body });
    expect(res.status).toBe(415);
    expect(basic.requests).toHaveLength(0);
  });

  it('gives a CORS preflight from a foreign origin no Access-Control-Allow-Origin (CORS is off by default)', async () => {
    const res = await gw.fetch('/graphql', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    const post = await gw.fetch('/graphql', {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/json', authorization: `Bearer ${CALLER}` },
      body: JSON.stringify({ query: '{ providers { name } }' }),
    });
    expect(post.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('with an allow-list, answers only the listed origin, never with credentials', async () => {
    const cors = await startGateway({ providers: providers(), server: { cors: { origins: ['https://dash.example.com'] } } });
    try {
      const preflight = (origin: string) =>
        cors.fetch('/graphql', {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
        });
      const ok = await preflight('https://dash.example.com');
      expect(ok.headers.get('access-control-allow-origin')).toBe('https://dash.example.com');
      expect(ok.headers.get('access-control-allow-credentials')).toBeNull();
      const foreign = await preflight('https://evil.example');
      expect(foreign.headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
      expect(foreign.headers.get('access-control-allow-origin')).not.toBe('*');
    } finally {
      await cors.close();
    }
  });
});

describe('errors and logs', () => {
  it('masks an unexpected error as "Unexpected error." even with NODE_ENV=development, and logs it', async () => {
    const connection = gw.keygate.gateway.connections().get('basic')!;
    const adapter = connection.adapter;
    connection.adapter = {
      ...adapter,
      buildUpdate: () => {
        throw new TypeError('internal detail: /srv/keygate/secret-path.ts');
      },
    };
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = 'development';
    try {
      const res = await as('mutation { updateApiKey(provider: "basic", id: "b-1", patch: { name: "x" }) { id } }');
      expect(res.body.errors).toHaveLength(1);
      expect(res.body.errors![0].message).toBe('Unexpected error.');
      expect(res.text).not.toContain('internal detail');
      expect(res.text).not.toContain('secret-path');
      expect(Object.keys(res.body.errors![0].extensions).sort()).toEqual(['code', 'requestId']);
      expect(gw.logs.some((l) => l.includes('internal detail'))).toBe(true);
      expect(basic.requests.filter((r) => r.method !== 'GET')).toHaveLength(0);
    } finally {
      process.env.NODE_ENV = env;
      connection.adapter = adapter;
    }
  });

  it('redacts credentials in log lines by configuration (pino redact paths)', () => {
    const lines: string[] = [];
    const log = createLogger({ destination: { write: (l: string) => void lines.push(l) } });
    const postgres = 'postgres://keygate:db_password_4242@db:5432/keygate';
    log.info(
      {
        authorization: `Bearer ${CALLER}`,
        headers: { authorization: `Bearer ${CALLER}`, cookie: 'session=abc', 'admin-auth': S.tyk },
        req: { headers: { authorization: `Bearer ${CALLER}` } },
        token: CALLER,
        config: { token: S.mesa, adminSecret: S.tyk, privateKey: 'atlas_pk_0001', postgres },
        postgres,
      },
      'hostile fields',
    );
    registerSecret('db_password_4242', 'atlas_pk_0001');
    const text = lines.join('');
    recordSeen(text);
    for (const secret of [CALLER, S.mesa, S.tyk, 'atlas_pk_0001', 'db_password_4242', 'session=abc']) expect(text).not.toContain(secret);
    expect(JSON.parse(lines[0])).toMatchObject({ token: '[redacted]', headers: { authorization: '[redacted]' }, config: { postgres: '[redacted]' } });
  });
});
