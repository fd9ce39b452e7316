import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlumaaSimulator, plumaaKey, startPlumaaSandbox, type PlumaaSimulator } from '../providers/plumaa/simulator.ts';
import type { PlumaaOrganizationRecord } from '../providers/plumaa/wire.ts';

const org = (id: string, name: string): PlumaaOrganizationRecord => ({
  id,
  name,
  logo: null,
  emailAddress: `admin@${name.toLowerCase()}.mx`,
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
});
const ORG_A = org('65a000000000000000000001', 'Alfa');
const ORG_B = org('65a000000000000000000002', 'Beta');
const TOKEN_A = 'plm_live_token_org_alfa_0001';
const TOKEN_B = 'plm_live_token_org_beta_0002';
const KEY_A = '65b0000000000000000000a1';
const KEY_B = '65b0000000000000000000b1';
const SECRET_A = 'plm_live_secret_a1a1a1a1a1a1a1a1';
const MISSING = '65b0000000000000000000ff';

let sim: PlumaaSimulator;

beforeAll(async () => {
  sim = await createPlumaaSimulator({
    tokens: { [TOKEN_A]: ORG_A.id, [TOKEN_B]: ORG_B.id },
    keys: [plumaaKey(KEY_A, 'Backend', ORG_A, { secret: SECRET_A }), plumaaKey(KEY_B, 'Beta key', ORG_B)],
  });
});
afterAll(async () => {
  await sim?.close();
});

interface CallOptions {
  token?: string | null;
  body?: unknown;
  raw?: string;
  /** The query string, without `?`. */
  query?: string;
  method?: string;
  path?: string;
}

async function call(opts: CallOptions = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const token = opts.token === undefined ? TOKEN_A : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const url = `${sim.baseUrl}${opts.path ?? '/api-key'}${opts.query ? `?${opts.query}` : ''}`;
  const res = await fetch(url, {
    method: opts.method ?? 'PUT',
    headers,
    body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

const q = (input: unknown) => `input=${encodeURIComponent(JSON.stringify(input))}`;

describe('plumaa simulator', () => {
  it('serves under /rest/v1', () => {
    expect(sim.baseUrl).toBe(`${sim.origin}/rest/v1`);
  });

  it('updates name and enabled from body.input and answers the whole ApiKey, secret and organization included', async () => {
    const res = await call({ body: { input: { id: KEY_A, name: 'Backend v2', enabled: false } } });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      id: KEY_A,
      enabled: false,
      name: 'Backend v2',
      secret: SECRET_A,
      organization: ORG_A,
      createdAt: '2026-01-20T12:00:00.000Z',
      updatedAt: expect.any(String),
    });
    expect(res.json.updatedAt).not.toBe('2026-01-20T12:00:00.000Z');
    expect(sim.keys.get(KEY_A)).toMatchObject({ name: 'Backend v2', enabled: false });
  });

  it('keeps fields that are not sent', async () => {
    const res = await call({ body: { input: { id: KEY_A, enabled: true } } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ name: 'Backend v2', enabled: true });
  });

  it('reads input from a URL-encoded JSON query parameter', async () => {
    const res = await call({ query: q({ id: KEY_A, name: 'From query' }) });
    expect(res.status).toBe(200);
    expect(res.json.name).toBe('From query');
  });

  it('lets the query input win over body.input', async () => {
    const res = await call({ query: q({ id: KEY_A, name: 'Query wins' }), body: { input: { id: KEY_A, name: 'Body loses', enabled: false } } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ name: 'Query wins', enabled: true });
  });

  it('applies the same input once when query and body agree (what the adapter sends)', async () => {
    const input = { id: KEY_A, name: 'Both', enabled: false };
    const res = await call({ query: q(input), body: { input } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ name: 'Both', enabled: false });
  });

  it('treats qs bracket query values as strings, so enabled=true is not a Boolean', async () => {
    const res = await call({ query: `input[id]=${KEY_A}&input[enabled]=true` });
    expect(res.status).toBe(500);
    expect(res.json.errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT' });
    expect(res.json.errors[0].message).toContain('Boolean cannot represent a non boolean value');
  });

  it('records the request, query and body', async () => {
    sim.reset();
    const input = { id: KEY_A, name: 'Recorded' };
    await call({ query: q(input), body: { input } });
    expect(sim.requests).toHaveLength(1);
    expect(sim.writes()).toHaveLength(1);
    expect(sim.requests[0]).toMatchObject({ method: 'PUT', path: '/rest/v1/api-key', query: { input: JSON.stringify(input) }, body: { input } });
    expect(sim.requests[0].headers.authorization).toBe(`Bearer ${TOKEN_A}`);
  });

  it("answers 400 with SOFA's message for a body that is not JSON", async () => {
    const res = await call({ raw: '{"input":' });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ errors: [{ message: 'POST body sent invalid JSON.' }] });
  });

  it('answers 400 when the query input, or a string body.input, is not JSON', async () => {
    for (const opts of [{ query: 'input=%7Bnope' }, { body: { input: 'not-json' } }]) {
      const res = await call(opts);
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ errors: [{ message: expect.any(String) }] });
    }
  });

  it('answers HTTP 500 UNAUTHENTICATED without a Bearer token or with an unknown one', async () => {
    for (const token of [null, 'plm_live_unknown']) {
      const res = await call({ token, body: { input: { id: KEY_A, name: 'x' } } });
      expect(res.status).toBe(500);
      expect(res.json).toEqual({ errors: [{ message: 'Unauthenticated', path: ['updateApiKey'], extensions: { code: 'UNAUTHENTICATED' } }] });
    }
    expect(sim.keys.get(KEY_A)?.name).not.toBe('x');
  });

  it('answers 500 PERMISSION_DENIED for a key of another organization, and leaves it alone', async () => {
    const res = await call({ token: TOKEN_B, body: { input: { id: KEY_A, name: 'hijack' } } });
    expect(res.status).toBe(500);
    expect(res.json).toEqual({ errors: [{ message: expect.any(String), path: ['updateApiKey'], extensions: { code: 'PERMISSION_DENIED' } }] });
    expect(sim.keys.get(KEY_A)?.name).not.toBe('hijack');
  });

  it('answers 500 NOT_FOUND for an unknown id', async () => {
    const res = await call({ body: { input: { id: MISSING, name: 'x' } } });
    expect(res.status).toBe(500);
    expect(res.json).toEqual({ errors: [{ message: expect.stringContaining(MISSING), path: ['updateApiKey'], extensions: { code: 'NOT_FOUND' } }] });
  });

  it('answers 500 BAD_USER_INPUT for an id that is not an ObjectId', async () => {
    const res = await call({ body: { input: { id: 'key_123', name: 'x' } } });
    expect(res.status).toBe(500);
    expect(res.json).toEqual({
      errors: [
        {
          message: expect.stringMatching(/^Variable "\$input" got invalid value "key_123" at "input.id"; Expected type "ObjectID"/),
          extensions: { code: 'BAD_USER_INPUT' },
        },
      ],
    });
  });

  it('answers 500 BAD_USER_INPUT for a non-string name, a non-boolean enabled, unknown fields, or no id', async () => {
    const cases: unknown[] = [
      { id: KEY_A, name: 5 },
      { id: KEY_A, enabled: 'false' },
      { id: KEY_A, description: 'x' },
      { name: 'x' },
      5,
      [1],
      JSON.stringify({ id: 'bad' }),
    ];
    for (const input of cases) {
      const res = await call({ body: { input } });
      expect(res.status).toBe(500);
      expect(res.json.errors.length).toBeGreaterThan(0);
      for (const e of res.json.errors) expect(e.extensions).toEqual({ code: 'BAD_USER_INPUT' });
    }
  });

  it('answers 500 BAD_USER_INPUT when input is missing', async () => {
    const res = await call({ body: {} });
    expect(res.status).toBe(500);
    expect(res.json).toEqual({
      errors: [{ message: 'Variable "$input" of required type "UpdateApiKeyInput!" was not provided.', extensions: { code: 'BAD_USER_INPUT' } }],
    });
  });

  it('has no route for other methods or paths', async () => {
    expect((await call({ method: 'PATCH', body: { input: { id: KEY_A } } })).status).toBe(404);
    expect((await call({ path: '/api-keys', body: { input: { id: KEY_A } } })).status).toBe(404);
  });
});

describe('plumaa sandbox', () => {
  it('starts with demo keys reachable through its connection, with plm_live_ secrets', async () => {
    const sandbox = await startPlumaaSandbox();
    try {
      const { baseUrl, token } = sandbox.connection as { baseUrl: string; token: string };
      expect(baseUrl).toBe(`${sandbox.simulator.origin}/rest/v1`);
      for (const id of sandbox.demoKeyIds) expect(id).toMatch(/^[0-9a-f]{24}$/);
      const res = await fetch(`${baseUrl}/api-key`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ input: { id: sandbox.demoKeyIds[0], enabled: false } }),
      });
      expect(res.status).toBe(200);
      const key = await res.json();
      expect(key.enabled).toBe(false);
      expect(key.secret).toMatch(/^plm_live_/);
      expect(sandbox.exampleMutation('plumaa')).toContain(sandbox.demoKeyIds[0]);
    } finally {
      await sandbox.simulator.close();
    }
  });
});
