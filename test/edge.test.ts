/**
 * The HTTP edge against hostile or sloppy clients: status per Accept, the request-wide write cap
 * and list-aware cost, slow clients and connection floods, media types, duplicate JSON keys and
 * credentials in query strings. Every refusal sends nothing upstream.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { basicKey, createBasicSimulator, type BasicSimulator } from '../providers/basic/simulator.ts';
import { recordSeen, registerSecret, startGateway, type TestGateway } from './harness.ts';

const TOKEN = 'basic_edge_token_7f8e9d0c1b2a';
registerSecret(TOKEN);
const IDS = ['b-1', 'b-2', 'b-3'];
let basic: BasicSimulator;
let gw: TestGateway;
const provider = () => ({ basic: { kind: 'basic', baseUrl: basic.baseUrl, project: 'p1', token: TOKEN } });

beforeAll(async () => {
  basic = await createBasicSimulator({ projects: { p1: { tokens: [TOKEN] } }, keys: { p1: IDS.map((id) => basicKey(id, id, 'read')) } });
  gw = await startGateway({ providers: provider() });
});
afterAll(async () => {
  await gw?.close();
  await basic?.close();
});
beforeEach(() => basic.reset());

const post = (body: string, headers: Record<string, string> = {}) =>
  gw.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
const items = (n: number) => Array.from({ length: n }, (_, i) => ({ provider: 'basic', id: IDS[i % 3], patch: { name: `n${i}` } }));
const literal = (n: number) =>
  `[${items(n)
    .map((u) => `{ provider: "basic", id: "${u.id}", patch: { name: "${u.patch.name}" } }`)
    .join(', ')}]`;

describe('status of a refused query, per Accept', () => {
  const flood = `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: providers { name }`).join(' ')} }`;
  it.each([
    ['application/graphql-response+json', 400, 'application/graphql-response+json'],
    ['application/json', 200, 'application/json'],
    [undefined, 200, 'application/json'],
    ['*/*', 200, 'application/json'],
    ['application/json, application/graphql-response+json', 200, 'application/json'],
    ['text/html', 406, null],
  ])('Accept %s: HTTP %i', async (accept, status, type) => {
    for (const query of [flood, '{ nope }', '{ providers {']) {
      const res = await post(JSON.stringify({ query }), accept ? { accept } : {});
      expect(res.status, query).toBe(status);
      expect(res.headers.get('content-type')?.split(';')[0] ?? null).toBe(type);
    }
  });
});

describe('limits.maxUpdatesPerRequest and list-aware maxCost', () => {
  it('refuses aliases that together ask for more writes than the cap (literals and variables), sending nothing; at the cap it runs', async () => {
    const tight = await startGateway({ providers: provider(), limits: { maxUpdatesPerRequest: 6 } });
    try {
      // 2 literal items + 3 from a variable + 1 updateApiKey in a fragment + 1 inline = 7.
      const over = await tight.gql(
        `mutation($u: [ApiKeyUpdateInput!]!) { a: updateApiKeys(updates: ${literal(2)}) { id } b: updateApiKeys(updates: $u) { id } ...One ... on Mutation { d: updateApiKey(provider: "basic", id: "b-2", patch: { name: "y" }) { id } } }
         fragment One on Mutation { c: updateApiKey(provider: "basic", id: "b-1", patch: { name: "x" }) { id } }`,
        { u: items(3) },
      );
      expect(over.status).toBe(200);
      // The write fields are non-null: the first refusal nulls the operation and ends it.
      expect(over.body.data).toBeNull();
      expect(over.body.errors).toHaveLength(1);
      for (const e of over.body.errors!) {
        expect(e.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'maxUpdatesPerRequest', max: 6, count: 7 });
        expect(e.message).toContain('limits.maxUpdatesPerRequest');
      }
      expect(basic.requests).toHaveLength(0);
      // A single variable object is coerced to a list of one, and counted so.
      const atCap = await tight.gql(
        `mutation($u: [ApiKeyUpdateInput!]!, $one: [ApiKeyUpdateInput!]!) { a: updateApiKeys(updates: ${literal(2)}) { id error { code } } b: updateApiKeys(updates: $u) { id error { code } } c: updateApiKeys(updates: $one) { id } d: updateApiKey(provider: "basic", id: "b-1", patch: { name: "x" }) { id } }`,
        { u: items(2), one: items(1)[0] },
      );
      expect(atCap.body.errors).toBeUndefined();
      expect(atCap.body.data!.a.every((r: { error: unknown }) => r.error === null)).toBe(true);
      expect(basic.writes()).toHaveLength(6);
    } finally {
      await tight.close();
    }
  });

  it('by default refuses 15 aliases × 7 items (105 > 100), sending nothing', async () => {
    const doc = `mutation($u: [ApiKeyUpdateInput!]!) { ${Array.from({ length: 15 }, (_, i) => `u${i}: updateApiKeys(updates: $u) { id }`).join(' ')} }`;
    const res = await gw.gql(doc, { u: items(7) });
    expect(res.body.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', max: 100, count: 105 });
    expect(basic.requests).toHaveLength(0);
  });

  it('counts list arguments in maxCost, literal or variable, refusing before anything runs', async () => {
    const tight = await startGateway({ providers: provider(), limits: { maxCost: 40 } });
    try {
      const doc = 'mutation($u: [ApiKeyUpdateInput!]!) { updateApiKeys(updates: $u) { id } }';
      for (const res of [await tight.gql(doc, { u: items(20) }), await tight.gql(`mutation { updateApiKeys(updates: ${literal(20)}) { id } }`)]) {
        expect(res.status).toBe(400);
        expect(res.body.errors![0]).toMatchObject({
          message: 'Syntax Error: Query Cost limit of 40 exceeded, found 70.',
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        });
      }
      expect(basic.requests).toHaveLength(0);
      expect((await tight.gql(doc, { u: items(2) })).body.errors).toBeUndefined();
      expect(basic.writes()).toHaveLength(2);
    } finally {
      await tight.close();
    }
  });

  it('refuses a batched (array) body: batching is off, so a request is one operation', async () => {
    const one = { query: 'mutation { updateApiKey(provider: "basic", id: "b-1", patch: { name: "x" }) { id } }' };
    const res = await post(JSON.stringify([one, one]));
    expect(res.status).toBe(400);
    expect(res.text).toContain('Batching is not supported');
    expect(basic.requests).toHaveLength(0);
  });
});

/** A raw connection to `port` on loopback: what it received, and a promise of its close. */
function rawSocket(port: number): { socket: Socket; received: () => string; closed: Promise<void>; connected: Promise<void> } {
  const socket = connect(port, '127.0.0.1');
  let out = '';
  socket.on('data', (d) => (out += d));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const connected = new Promise<void>((resolve) => socket.on('connect', () => resolve()));
  return { socket, received: () => out, closed, connected };
}

describe('slow clients and connection floods', () => {
  it('answers 408 and closes a body sent byte by byte, and an idle connection, on the main and the metrics port; a call slower than requestTimeoutMs still completes', async () => {
    const slow = await startGateway({
      providers: provider(),
      server: { headersTimeoutMs: 300, requestTimeoutMs: 500, keepAliveTimeoutMs: 300 },
      metrics: { port: 0 },
    });
    const timers: NodeJS.Timeout[] = [];
    try {
      const { port } = new URL(slow.url);
      const body = JSON.stringify({ query: '{ providers { name } }' });
      const dribble = rawSocket(Number(port));
      await dribble.connected;
      dribble.socket.write(`POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
      let sent = 0;
      // One byte every 50 ms: the body would take seconds; it is bounded by the test's own timeout too.
      timers.push(setInterval(() => sent < body.length && !dribble.socket.destroyed && dribble.socket.write(body[sent++]), 50));
      const idle = rawSocket(Number(port));
      const metricsIdle = rawSocket(Number(new URL(slow.keygate.metricsUrl).port));
      await Promise.all([dribble.closed, idle.closed, metricsIdle.closed]);
      for (const s of [dribble, idle, metricsIdle]) expect(s.received()).toMatch(/^HTTP\/1\.1 408 /);
      expect(sent).toBeLessThan(body.length);

      // The request timeout bounds receiving the request, not the call: a vendor answering later still answers.
      basic.inject({ method: 'GET', delayMs: 900, times: 1 });
      const res = await slow.gql('{ apiKey(provider: "basic", id: "b-1") { id } }');
      expect(res.body).toEqual({ data: { apiKey: { id: 'b-1' } } });
    } finally {
      for (const t of timers) clearInterval(t);
      await slow.close();
    }
  });

  it('closes connections beyond server.maxConnections at once, while the first ones still work', async () => {
    const capped = await startGateway({ providers: provider(), server: { maxConnections: 2 } });
    try {
      const port = Number(new URL(capped.url).port);
      const first = [rawSocket(port), rawSocket(port)];
      await Promise.all(first.map((s) => s.connected));
      const extra = rawSocket(port);
      await extra.closed;
      expect(extra.received()).toBe('');
      const body = JSON.stringify({ query: '{ providers { name } }' });
      for (const s of first)
        s.socket.end(
          `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        );
      await Promise.all(first.map((s) => s.closed));
      for (const s of first) {
        recordSeen(s.received());
        expect(s.received()).toMatch(/^HTTP\/1\.1 200 /);
        expect(s.received()).toContain('"providers":[{"name":"basic"}]');
      }
    } finally {
      await capped.close();
    }
  });
});

describe('media types, duplicate JSON keys, credentials in the query string', () => {
  const query = '{ providers { name } }';
  it.each([
    'APPLICATION/JSON',
    'application/json; charset=UTF-8',
    'Application/Json ; Charset="utf-8"',
    'application/graphql+json',
    'application/json;charset=utf8',
  ])('accepts Content-Type %j', async (type) => {
    const res = await post(JSON.stringify({ query }), { 'content-type': type });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ data: { providers: [{ name: 'basic' }] } });
  });

  it('accepts other media types in any case too (application/graphql, forms with the CSRF header), and refuses a charset other than UTF-8 with 415', async () => {
    const graphql = await post(query, { 'content-type': 'Application/GraphQL' });
    expect(JSON.parse(graphql.text).data).toEqual({ providers: [{ name: 'basic' }] });
    const form = await post(new URLSearchParams({ query }).toString(), { 'content-type': 'APPLICATION/X-WWW-FORM-URLENCODED', 'x-graphql-yoga-csrf': '1' });
    expect(JSON.parse(form.text).data).toEqual({ providers: [{ name: 'basic' }] });
    // A form without the CSRF header is still refused, whatever its case.
    expect((await post(new URLSearchParams({ query }).toString(), { 'content-type': 'APPLICATION/X-WWW-FORM-URLENCODED' })).status).toBe(403);
    const latin = await post(JSON.stringify({ query }), { 'content-type': 'application/json; charset=ISO-8859-1' });
    expect(latin.status).toBe(415);
    expect(latin.text).toContain('UTF-8');
  });

  it.each([
    [
      'the query',
      `{"query":"{ providers { name } }","query":"mutation { updateApiKey(provider: \\"basic\\", id: \\"b-1\\", patch: { name: \\"x\\" }) { id } }"}`,
      'key "query" appears twice in the top-level object',
    ],
    [
      'a patch field',
      `{"query":"mutation($p: ApiKeyPatch!) { updateApiKey(provider: \\"basic\\", id: \\"b-1\\", patch: $p) { id } }","variables":{"p":{"name":"a","name":"b"}}}`,
      'key "name" appears twice in the object at variables.p',
    ],
    [
      'an escaped spelling',
      `{"query":"mutation($p: ApiKeyPatch!) { updateApiKey(provider: \\"basic\\", id: \\"b-1\\", patch: $p) { id } }","variables":{"p":{"name":"a","n\\u0061me":"b"}}}`,
      'key "name" appears twice',
    ],
    [
      'a list item',
      `{"query":"mutation($u: [ApiKeyUpdateInput!]!) { updateApiKeys(updates: $u) { id } }","variables":{"u":[{"provider":"basic","id":"b-1","patch":{"name":"a"}},{"provider":"basic","id":"b-1","id":"b-2","patch":{"name":"a"}}]}}`,
      'the object at variables.u[1]',
    ],
    ['extensions', '{"query":"{ providers { name } }","extensions":{"a":1,"a":2}}', 'the object at extensions'],
  ])('refuses a body naming a key twice (%s) with 400 BAD_USER_INPUT, sending nothing', async (_name, body, message) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    const { errors } = JSON.parse(res.text);
    expect(errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(errors[0].message).toContain(message);
    expect(basic.requests).toHaveLength(0);
  });

  it('refuses duplicate keys in GET variables too, and still answers a body without any', async () => {
    const qs = new URLSearchParams({ query: 'query($id: ID!) { apiKey(provider: "basic", id: $id) { id } }', variables: '{"id":"b-1","id":"b-2"}' });
    const res = await gw.fetch(`/graphql?${qs}`, { headers: { 'x-graphql-yoga-csrf': '1' } });
    expect(res.status).toBe(400);
    expect(res.text).toContain('key \\"id\\" appears twice');
    expect(basic.requests).toHaveLength(0);
    expect((await post('{"query":"{ providers { name } }","variables":{"a":{"b":1},"b":{"a":[{"a":1},{"a":2}]}}}')).status).toBe(200);
  });

  it.each([
    'key',
    'x-api-key',
    'X-API-KEY',
    'apiKey',
    'API_KEY',
    'access-token',
    'refresh_token',
    'client_secret',
    'password',
    'secret',
    'sig',
    'signature',
    'Authorization',
  ])('refuses ?%s= with 401 before anything runs', async (name) => {
    const res = await gw.fetch(`/graphql?${encodeURIComponent(name)}=abc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    });
    expect(res.status).toBe(401);
    expect(res.text).toContain('credentials in the query string are refused');
  });

  it('lets other query parameters through', async () => {
    for (const name of ['keyword', 'page', 'monkey']) {
      const res = await gw.fetch(`/graphql?${name}=1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
      expect(res.status, name).toBe(200);
    }
  });
});
