import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTykSimulator, demoSession, startTykSandbox, TYK_DEMO, type TykSimulator } from '../providers/tyk/simulator.ts';

const SECRET = 'tyk_test_admin_secret_5b4a';
const ORG = '5e9d9544a1dcd60001d0ed20';
const KEY = `${ORG}e7f75f9e03534825b7aef9df749582e5`;

let sim: TykSimulator;

const keys = (): Record<string, ReturnType<typeof demoSession>> => {
  const out: Record<string, ReturnType<typeof demoSession>> = { [KEY]: demoSession('portal-key', ['edge'], { hmac_string: 'hmac-secret' }) };
  for (let i = 0; i < 22; i++) out[`${ORG}${String(i).padStart(32, '0')}`] = demoSession(`k${i}`, []);
  return out;
};

const call = async (method: string, path: string, body?: string, secret: string | null = SECRET) => {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (secret !== null) headers['Admin-Auth'] = secret;
  const res = await fetch(`${sim.baseUrl}${path}`, { method, headers, body });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
};

beforeAll(async () => {
  sim = await createTykSimulator({ adminSecret: SECRET, keys: keys() });
});
afterAll(async () => {
  await sim?.close();
});
beforeEach(() => {
  sim.reset();
  sim.sessions.clear();
  for (const [id, s] of Object.entries(keys())) sim.sessions.set(id, s);
});

describe('tyk simulator', () => {
  it('answers 401 Not authorised without or with a wrong Admin-Auth', async () => {
    for (const secret of [null, 'wrong-secret']) {
      const res = await call('GET', `/admin/org/keys/${KEY}`, undefined, secret);
      expect(res).toEqual({ status: 401, json: { Status: 'Error', Message: 'Not authorised', Meta: null } });
    }
  });

  it('accepts the header in any case and reads a key as KeyData', async () => {
    const res = await fetch(`${sim.baseUrl}/admin/org/keys/${KEY}`, { headers: { 'admin-auth': SECRET } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ api_model: {}, key_id: KEY, data: { alias: 'portal-key', org_id: ORG, tags: ['edge'] } });
    expect(typeof body.key_hash).toBe('string');
  });

  it("answers 404 Org key doesn't exist for an unknown key, on GET and PUT", async () => {
    const notFound = { status: 404, json: { Status: 'Error', Message: "Org key doesn't exist", Meta: null } };
    expect(await call('GET', '/admin/org/keys/nope')).toEqual(notFound);
    expect(await call('PUT', '/admin/org/keys/nope', JSON.stringify({ org_id: ORG }))).toEqual(notFound);
  });

  it('replaces the whole session on PUT: fields absent from the body are gone', async () => {
    const res = await call('PUT', `/admin/org/keys/${KEY}`, JSON.stringify({ org_id: ORG, alias: 'renamed', rate: 5 }));
    expect(res).toEqual({ status: 200, json: { Status: 'OK', Message: 'Key updated', Meta: null } });
    const stored = sim.sessions.get(KEY)!;
    expect(stored.alias).toBe('renamed');
    expect(stored.rate).toBe(5);
    expect(stored.access_rights).toBeUndefined();
    expect(stored.tags).toBeUndefined();
    expect(stored.hmac_string).toBeUndefined();
    expect(Number(stored.last_updated)).toBeGreaterThan(1_700_000_000);
    const read = await call('GET', `/admin/org/keys/${KEY}`);
    expect(Object.keys(read.json.data as object).sort()).toEqual(['alias', 'last_updated', 'org_id', 'rate']);
  });

  it('refuses an org_id change with 500 and keeps the session', async () => {
    const before = structuredClone(sim.sessions.get(KEY));
    for (const body of [{ org_id: 'another-org', alias: 'x' }, { alias: 'no org' }]) {
      const res = await call('PUT', `/admin/org/keys/${KEY}`, JSON.stringify(body));
      expect(res).toEqual({ status: 500, json: { Status: 'Error', Message: 'Updating orgID of org key is not allowed', Meta: null } });
    }
    expect(sim.sessions.get(KEY)).toEqual(before);
  });

  it('answers 400 to a malformed body', async () => {
    for (const body of ['{not json', '[1,2]', '"str"']) {
      const res = await call('PUT', `/admin/org/keys/${KEY}`, body);
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ Status: 'Error', Message: 'User/Key object validation failed, most likely malformed input.', Meta: null });
    }
  });

  it('lists keys ten per page with the page count', async () => {
    const p1 = await call('GET', '/admin/org/keys');
    const p3 = await call('GET', '/admin/org/keys?p=3');
    expect(p1.json.pages).toBe(3);
    expect((p1.json.data as { keys: unknown[] }).keys).toHaveLength(10);
    expect((p3.json.data as { keys: { key_id: string }[] }).keys.map((k) => k.key_id)).toHaveLength(3);
    const p4 = await call('GET', '/admin/org/keys?p=4');
    expect(p4.json).toEqual({ data: { keys: [] }, pages: 3 });
  });

  it('records requests, including the auth header, and honours faults', async () => {
    sim.inject({ method: 'PUT', response: { status: 503, text: 'busy' } });
    const res = await fetch(`${sim.baseUrl}/admin/org/keys/${KEY}`, { method: 'PUT', headers: { 'Admin-Auth': SECRET }, body: '{}' });
    expect(res.status).toBe(503);
    expect(sim.writes()).toHaveLength(0); // a faulted PUT changed nothing
    expect(sim.requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
    expect(sim.requests[0].headers['admin-auth']).toBe(SECRET);
  });
});

describe('tyk sandbox', () => {
  it('serves the demo keys with the demo secret and the seed example key id', async () => {
    const sandbox = await startTykSandbox();
    try {
      expect(sandbox.demoKeyIds).toContain('5e9d9544a1dcd60001d0ed20e7f75f9e03534825b7aef9df749582e5');
      expect(sandbox.connection).toEqual({ baseUrl: sandbox.simulator.baseUrl, api: 'dashboard', apiKey: TYK_DEMO.dashboardKey });
      const res = await fetch(`${sandbox.simulator.baseUrl}/api/keys/${sandbox.demoKeyIds[0]}`, { headers: { Authorization: TYK_DEMO.dashboardKey } });
      expect(res.status).toBe(200);
      const admin = await fetch(`${sandbox.simulator.baseUrl}/admin/org/keys/${sandbox.demoKeyIds[0]}`, { headers: { 'Admin-Auth': TYK_DEMO.adminSecret } });
      expect(admin.status).toBe(200);
      const gateway = await fetch(`${sandbox.simulator.baseUrl}/tyk/keys/${sandbox.demoKeyIds[0]}`, {
        headers: { 'X-Tyk-Authorization': TYK_DEMO.gatewaySecret },
      });
      expect(((await gateway.json()) as { alias: string }).alias).toBe('portal-key');
      expect(sandbox.exampleMutation('tyk')).toContain('tyk: { rate: 500, per: 60 }');
    } finally {
      await sandbox.simulator.close();
    }
  });
});
