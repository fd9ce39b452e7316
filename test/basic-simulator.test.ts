import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicKey, createBasicSimulator, startBasicSandbox, type BasicSimulator } from '../providers/basic/simulator.ts';

const PROJECT = 'proj-1111';
const OTHER = 'proj-2222';
const TOKEN = 'basic_test_token_p1';
const OTHER_TOKEN = 'basic_test_token_p2';
const KEY = 'key-aaaa';

let sim: BasicSimulator;

beforeAll(async () => {
  sim = await createBasicSimulator({
    projects: { [PROJECT]: { tokens: [TOKEN] }, [OTHER]: { tokens: [OTHER_TOKEN] } },
    keys: { [PROJECT]: [basicKey(KEY, 'Mobile', 'read,write')], [OTHER]: [basicKey('key-bbbb', 'Other', 'read')] },
  });
});
afterAll(async () => {
  await sim?.close();
});

async function call(method: string, path: string, opts: { token?: string | null; body?: unknown; raw?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${sim.baseUrl}${path}`, {
    method,
    headers,
    body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

const keyPath = (project = PROJECT, key = KEY) => `/project/${project}/key/${key}`;

describe('basic simulator', () => {
  it('uses the origin as baseUrl', () => {
    expect(sim.baseUrl).toBe(sim.origin);
  });

  it('PATCHes label and roles, answers {key:{id,label,roles,updated_at}} and keeps the change', async () => {
    const res = await call('PATCH', keyPath(), { body: { label: 'Mobile v2', roles: 'read,write,admin' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.json).toEqual({ key: { id: KEY, label: 'Mobile v2', roles: 'read,write,admin', updated_at: expect.any(String) } });
    expect(Number.isNaN(Date.parse(res.json.key.updated_at))).toBe(false);

    const read = await call('GET', keyPath());
    expect(read.status).toBe(200);
    expect(read.json).toEqual({ key: { id: KEY, label: 'Mobile v2', roles: 'read,write,admin', created_at: '2026-02-03T10:00:00.000Z' } });
    expect(sim.keys.get(PROJECT)?.get(KEY)?.label).toBe('Mobile v2');
  });

  it('changes only the field sent', async () => {
    const res = await call('PATCH', keyPath(), { body: { roles: 'read' } });
    expect(res.status).toBe(200);
    expect(res.json.key).toMatchObject({ label: 'Mobile v2', roles: 'read' });
  });

  it('records the request, with its Bearer header and body', async () => {
    sim.reset();
    await call('PATCH', keyPath(), { body: { label: 'Recorded' } });
    expect(sim.requests).toHaveLength(1);
    expect(sim.writes()).toHaveLength(1);
    expect(sim.requests[0]).toMatchObject({ method: 'PATCH', path: keyPath(), body: { label: 'Recorded' } });
    expect(sim.requests[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('answers 401 {error, message} without a Bearer token', async () => {
    const res = await call('PATCH', keyPath(), { token: null, body: { label: 'x' } });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ error: 'unauthorized', message: expect.any(String) });
  });

  it('answers 401 for an unknown token, and for a token of another project', async () => {
    for (const token of ['not-a-token', OTHER_TOKEN]) {
      const res = await call('PATCH', keyPath(), { token, body: { label: 'x' } });
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ error: 'unauthorized', message: expect.any(String) });
    }
    expect(sim.keys.get(PROJECT)?.get(KEY)?.label).not.toBe('x');
  });

  it('answers 400 bad_request for an empty body object (minProperties 1)', async () => {
    const res = await call('PATCH', keyPath(), { body: {} });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: 'bad_request', message: expect.any(String) });
  });

  it('answers 400 bad_request for a body with neither label nor roles, a non-object, or bad JSON', async () => {
    for (const opts of [{ body: { name: 'x' } }, { body: ['label'] }, { body: 'label' }, { raw: '{"label":' }]) {
      const res = await call('PATCH', keyPath(), opts);
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ error: 'bad_request', message: expect.any(String) });
    }
  });

  it('answers 400 when label or roles is not a string (roles is one comma-separated string)', async () => {
    const a = await call('PATCH', keyPath(), { body: { roles: ['read', 'write'] } });
    expect(a.status).toBe(400);
    expect(a.json).toEqual({ error: 'bad_request', message: 'body/roles must be string' });
    const b = await call('PATCH', keyPath(), { body: { label: 42 } });
    expect(b.status).toBe(400);
    expect(b.json).toEqual({ error: 'bad_request', message: 'body/label must be string' });
  });

  it('answers 404 with only {error} for an unknown key, on PATCH and GET', async () => {
    const res = await call('PATCH', keyPath(PROJECT, 'key-missing'), { body: { label: 'x' } });
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ error: 'API key not found' });
    const read = await call('GET', keyPath(PROJECT, 'key-missing'));
    expect(read.status).toBe(404);
    expect(read.json).toEqual({ error: 'API key not found' });
  });

  it('does not reach keys of another project with this project in the path', async () => {
    const res = await call('PATCH', keyPath(PROJECT, 'key-bbbb'), { body: { label: 'x' } });
    expect(res.status).toBe(404);
  });

  it('obeys injected faults', async () => {
    sim.inject({ response: { status: 503, text: 'unavailable' } });
    const res = await fetch(`${sim.baseUrl}${keyPath()}`, { method: 'PATCH', headers: { authorization: `Bearer ${TOKEN}` }, body: '{"label":"y"}' });
    expect(res.status).toBe(503);
    await res.text();
  });
});

describe('basic sandbox', () => {
  it('starts with demo keys reachable through its connection', async () => {
    const sandbox = await startBasicSandbox();
    try {
      const { baseUrl, project, token } = sandbox.connection as { baseUrl: string; project: string; token: string };
      expect(baseUrl).toBe(sandbox.simulator.origin);
      expect(sandbox.demoKeyIds.length).toBeGreaterThan(0);
      const res = await fetch(`${baseUrl}/project/${project}/key/${sandbox.demoKeyIds[0]}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ roles: 'read' }),
      });
      expect(res.status).toBe(200);
      expect((await res.json()).key.roles).toBe('read');
      expect(sandbox.exampleMutation('basic')).toContain(sandbox.demoKeyIds[0]);
    } finally {
      await sandbox.simulator.close();
    }
  });
});
