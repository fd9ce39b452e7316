import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atlasKey, createAtlasSimulator, startAtlasSandbox, type AtlasSimulator } from '../providers/atlas/simulator.ts';
import { digestAuthorization, parseDigestChallenge, type DigestChallenge } from '../src/upstream/digest.ts';
import { until } from './until.ts';

const ORG = '5980cfc70b6d97029d82e3f6';
const OTHER_ORG = '5980cfc70b6d97029d82e3f7';
const OWNER = { publicKey: 'ownerkey', privateKey: '0c9a6d1e-4b7f-4e2a-9d3c-5f8e1a2b3c4d' };
const MEMBER = { publicKey: 'memberky', privateKey: '7e1f2a3b-8c9d-4e0f-a1b2-c3d4e5f60718' };
const KEY = '5c47ba5127d9d61b9fd8a27b';
const KEY2 = '5c47ba5127d9d61b9fd8a27c';
const MISSING = '5c47ba5127d9d61b9fd8a2ff';

let sim: AtlasSimulator;

beforeAll(async () => {
  sim = await createAtlasSimulator({
    orgId: ORG,
    apiKeys: {
      [OWNER.publicKey]: { privateKey: OWNER.privateKey, roles: ['ORG_OWNER'] },
      [MEMBER.publicKey]: { privateKey: MEMBER.privateKey, roles: ['ORG_MEMBER'] },
    },
    keys: [
      atlasKey(KEY, 'CI deploys', ['ORG_MEMBER'], { publicKey: 'abcdefgh', privateKey: 'a1b2c3d4-e5f6-4a7b-8c9d-db2c132ca78d' }),
      atlasKey(KEY2, 'Billing export', ['ORG_BILLING_READ_ONLY']),
    ],
  });
});
afterAll(async () => {
  await sim?.close();
});

const keyPath = (id: string, org = ORG) => `/orgs/${org}/apiKeys/${id}`;

interface Answer {
  status: number;
  headers: Headers;
  json: any;
}

async function raw(method: string, path: string, init: { authorization?: string; body?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/json' };
  if (init.authorization) headers.authorization = init.authorization;
  const res = await fetch(`${sim.baseUrl}${path}`, { method, headers, body: init.body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

/** Asks for a fresh challenge with an unauthenticated request. */
async function challengeFor(method: string, path: string): Promise<DigestChallenge> {
  const res = await raw(method, path);
  expect(res.status).toBe(401);
  const c = parseDigestChallenge(res.headers.get('www-authenticate') ?? '');
  if (!c) throw new Error('no digest challenge');
  return c;
}

function authFor(method: string, path: string, challenge: DigestChallenge, opts: { nc?: number; who?: typeof OWNER; password?: string } = {}) {
  const who = opts.who ?? OWNER;
  return digestAuthorization({
    username: who.publicKey,
    password: opts.password ?? who.privateKey,
    method,
    uri: new URL(`${sim.baseUrl}${path}`).pathname + new URL(`${sim.baseUrl}${path}`).search,
    challenge,
    nc: opts.nc ?? 1,
    cnonce: randomBytes(8).toString('hex'),
  });
}

/** A full handshake: challenge, then the authorised request. */
async function call(method: string, path: string, body?: unknown, opts: { who?: typeof OWNER; rawBody?: string } = {}): Promise<Answer> {
  const challenge = await challengeFor(method, path);
  return raw(method, path, {
    authorization: authFor(method, path, challenge, { who: opts.who }),
    body: opts.rawBody ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
}

describe('atlas simulator: digest authentication', () => {
  it('challenges an unauthenticated request as Atlas documents', async () => {
    const res = await raw('PATCH', keyPath(KEY), { body: JSON.stringify({ desc: 'x' }) });
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/json;charset=ISO-8859-1');
    expect(res.headers.get('www-authenticate')).toMatch(/^Digest realm="MMS Public API", domain="", nonce="[^"]+", algorithm=MD5, qop="auth", stale=false$/);
    expect(res.json).toEqual({ detail: 'You are not authorized for this resource.', error: 401, reason: 'Unauthorized' });
    expect(sim.keys.get(KEY)?.desc).toBe('CI deploys');
  });

  it('accepts an authorised PATCH and changes state', async () => {
    const res = await call('PATCH', keyPath(KEY), { desc: 'Updated API key description for test purposes', roles: ['ORG_MEMBER', 'ORG_READ_ONLY'] });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      desc: 'Updated API key description for test purposes',
      id: KEY,
      links: [{ href: `${sim.baseUrl}/orgs/${ORG}/apiKeys/${KEY}`, rel: 'self' }],
      privateKey: '********-****-****-db2c132ca78d',
      publicKey: 'abcdefgh',
      roles: [
        { orgId: ORG, roleName: 'ORG_MEMBER' },
        { orgId: ORG, roleName: 'ORG_READ_ONLY' },
      ],
    });
    expect(sim.keys.get(KEY)).toMatchObject({ desc: 'Updated API key description for test purposes', roles: ['ORG_MEMBER', 'ORG_READ_ONLY'] });
  });

  it('replaces roles and leaves desc alone when only roles are sent', async () => {
    const res = await call('PATCH', keyPath(KEY2), { roles: ['ORG_GROUP_CREATOR'] });
    expect(res.status).toBe(200);
    expect(res.json.desc).toBe('Billing export');
    expect(res.json.roles).toEqual([{ orgId: ORG, roleName: 'ORG_GROUP_CREATOR' }]);
  });

  it('refuses a wrong private key with a fresh challenge', async () => {
    const path = keyPath(KEY);
    const challenge = await challengeFor('GET', path);
    const res = await raw('GET', path, { authorization: authFor('GET', path, challenge, { password: 'not-the-key' }) });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('stale=false');
  });

  it('refuses an unknown public key, a nonce it never issued, and a uri for another resource', async () => {
    const path = keyPath(KEY);
    const challenge = await challengeFor('GET', path);
    const stranger = { publicKey: 'stranger', privateKey: 'x' };
    expect((await raw('GET', path, { authorization: authFor('GET', path, challenge, { who: stranger }) })).status).toBe(401);
    const forged = { ...challenge, nonce: 'bm90IGlzc3VlZA==' };
    expect((await raw('GET', path, { authorization: authFor('GET', path, forged) })).status).toBe(401);
    const other = authFor('GET', keyPath(KEY2), challenge);
    expect((await raw('GET', path, { authorization: other })).status).toBe(401);
    // The challenge itself is still good.
    expect((await raw('GET', path, { authorization: authFor('GET', path, challenge) })).status).toBe(200);
  });

  it('answers a stale nonce with stale=true, then accepts the new one', async () => {
    const path = keyPath(KEY);
    const challenge = await challengeFor('GET', path);
    expect((await raw('GET', path, { authorization: authFor('GET', path, challenge) })).status).toBe(200);
    sim.expireNonces();
    const stale = await raw('GET', path, { authorization: authFor('GET', path, challenge, { nc: 2 }) });
    expect(stale.status).toBe(401);
    const fresh = parseDigestChallenge(stale.headers.get('www-authenticate') ?? '');
    expect(fresh?.stale).toBe(true);
    expect(fresh?.nonce).not.toBe(challenge.nonce);
    expect((await raw('GET', path, { authorization: authFor('GET', path, fresh!) })).status).toBe(200);
  });

  it('expires nonces after nonceTtlMs', async () => {
    const short = await createAtlasSimulator({
      orgId: ORG,
      apiKeys: { [OWNER.publicKey]: { privateKey: OWNER.privateKey, roles: ['ORG_OWNER'] } },
      keys: [atlasKey(KEY, 'k', ['ORG_MEMBER'])],
      nonceTtlMs: 1,
    });
    try {
      const url = `${short.baseUrl}${keyPath(KEY)}`;
      const first = await fetch(url);
      const challenge = parseDigestChallenge(first.headers.get('www-authenticate') ?? '')!;
      const issuedBy = Date.now();
      await until(() => Date.now() > issuedBy + 1, { what: 'the 1 ms nonce TTL to pass' });
      const authorization = digestAuthorization({
        username: OWNER.publicKey,
        password: OWNER.privateKey,
        method: 'GET',
        uri: new URL(url).pathname,
        challenge,
        nc: 1,
        cnonce: 'c1',
      });
      const res = await fetch(url, { headers: { authorization } });
      expect(res.status).toBe(401);
      expect(parseDigestChallenge(res.headers.get('www-authenticate') ?? '')?.stale).toBe(true);
    } finally {
      await short.close();
    }
  });

  it('rejects a replayed (nonce, nc) pair but accepts the next count', async () => {
    const path = keyPath(KEY);
    const challenge = await challengeFor('GET', path);
    const authorization = authFor('GET', path, challenge, { nc: 1 });
    expect((await raw('GET', path, { authorization })).status).toBe(200);
    const replay = await raw('GET', path, { authorization });
    expect(replay.status).toBe(401);
    expect(replay.headers.get('www-authenticate')).toContain('stale=false');
    expect((await raw('GET', path, { authorization: authFor('GET', path, challenge, { nc: 2 }) })).status).toBe(200);
  });

  it('answers 20 concurrent PATCHes, each with its own challenge', async () => {
    const path = keyPath(KEY);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => call('PATCH', path, { desc: `concurrent ${i}` })));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    for (const [i, a] of answers.entries()) expect(a.json.desc).toBe(`concurrent ${i}`);
  });

  it('accepts concurrent requests sharing one nonce with distinct counts, in any order', async () => {
    const path = keyPath(KEY);
    const challenge = await challengeFor('GET', path);
    const counts = [5, 1, 4, 2, 3];
    const answers = await Promise.all(counts.map((nc) => raw('GET', path, { authorization: authFor('GET', path, challenge, { nc }) })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
  });
});

describe('atlas simulator: roles and routes', () => {
  it('refuses an update from a caller without ORG_OWNER with NOT_ORG_OWNER', async () => {
    const res = await call('PATCH', keyPath(KEY), { desc: 'member tries' }, { who: MEMBER });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({
      detail: `The current user is not an owner of the organization ${ORG}.`,
      error: 401,
      errorCode: 'NOT_ORG_OWNER',
      parameters: [ORG],
      reason: 'Unauthorized',
    });
    expect(sim.keys.get(KEY)?.desc).not.toBe('member tries');
  });

  it('lets an ORG_MEMBER read one key', async () => {
    const res = await call('GET', keyPath(KEY2), undefined, { who: MEMBER });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: KEY2, desc: 'Billing export' });
    expect(res.json.privateKey).toMatch(/^\*{8}-\*{4}-\*{4}-[0-9a-f]{12}$/);
  });

  it('lists keys with pageNum and itemsPerPage', async () => {
    const all = await call('GET', `/orgs/${ORG}/apiKeys`);
    expect(all.status).toBe(200);
    expect(all.json.totalCount).toBe(2);
    expect(all.json.results.map((k: any) => k.id)).toEqual([KEY, KEY2]);
    const page2 = await call('GET', `/orgs/${ORG}/apiKeys?pageNum=2&itemsPerPage=1`);
    expect(page2.json.results.map((k: any) => k.id)).toEqual([KEY2]);
    expect(page2.json.links[0]).toEqual({ href: `${sim.baseUrl}/orgs/${ORG}/apiKeys?pageNum=2&itemsPerPage=1`, rel: 'self' });
    const tooMany = await call('GET', `/orgs/${ORG}/apiKeys?itemsPerPage=501`);
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.errorCode).toBe('INVALID_QUERY_PARAMETER');
  });

  it('answers an unknown org with 404 ORG_NOT_FOUND and a malformed one with INVALID_ORG_ID', async () => {
    const res = await call('PATCH', keyPath(KEY, OTHER_ORG), { desc: 'x' });
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ error: 404, errorCode: 'ORG_NOT_FOUND', reason: 'Not Found' });
    const bad = await call('GET', keyPath(KEY, 'acme'));
    expect(bad.json).toMatchObject({ error: 404, errorCode: 'INVALID_ORG_ID' });
  });
});

describe('atlas simulator: documented 400s', () => {
  const cases: [string, unknown, string, string][] = [
    ['neither desc nor roles', {}, 'MISSING_ATTRIBUTE', 'This request requires a minimum of one of the two body parameters: desc, roles.'],
    ['an empty desc', { desc: '' }, 'INVALID_API_KEY_DESC', 'API key descriptions are required and must be less than 250 characters.'],
    ['a 251-character desc', { desc: 'x'.repeat(251) }, 'INVALID_API_KEY_DESC', 'API key descriptions are required and must be less than 250 characters.'],
    ['empty roles', { roles: [] }, 'MISSING_API_KEY_ROLES', 'API keys must have at least one role.'],
    ['a project role', { roles: ['ORG_MEMBER', 'GROUP_OWNER'] }, 'INVALID_ROLE_FOR_ORG', `Role GROUP_OWNER invalid for organization ${ORG}.`],
    ['roles that are not strings', { roles: [1] }, 'INVALID_ATTRIBUTE', 'Invalid attribute roles specified.'],
  ];
  it.each(cases)('answers %s with 400 %s', async (_, body, errorCode, detail) => {
    const before = structuredClone(sim.keys.get(KEY));
    const res = await call('PATCH', keyPath(KEY), body);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ detail, error: 400, errorCode, reason: 'Bad Request' });
    expect(Array.isArray(res.json.parameters)).toBe(true);
    expect(sim.keys.get(KEY)).toEqual(before);
  });

  it('accepts a 250-character desc', async () => {
    const res = await call('PATCH', keyPath(KEY), { desc: 'y'.repeat(250) });
    expect(res.status).toBe(200);
  });

  it('answers an unknown key with 400 API_KEY_NOT_FOUND (not 404)', async () => {
    for (const method of ['PATCH', 'GET']) {
      const res = await call(method, keyPath(MISSING), method === 'PATCH' ? { desc: 'x' } : undefined);
      expect(res.status).toBe(400);
      expect(res.json).toEqual({
        detail: `No API key with ID ${MISSING} exists.`,
        error: 400,
        errorCode: 'API_KEY_NOT_FOUND',
        parameters: [MISSING],
        reason: 'Bad Request',
      });
    }
  });

  it('answers invalid JSON with 400 MALFORMED_JSON', async () => {
    const res = await call('PATCH', keyPath(KEY), undefined, { rawBody: '{"desc": ' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: 400, errorCode: 'MALFORMED_JSON' });
  });
});

describe('atlas sandbox', () => {
  it('starts with demo keys and a connection that authenticates', async () => {
    const sandbox = await startAtlasSandbox();
    try {
      expect(sandbox.demoKeyIds).toEqual(['5c47ba5127d9d61b9fd8a27b', '5c47ba5127d9d61b9fd8a27c']);
      expect(sandbox.simulator.baseUrl).toBe(`${sandbox.simulator.origin}/api/atlas/v1.0`);
      expect(sandbox.exampleMutation('atlas-demo')).toContain('provider: "atlas-demo"');
      // v2 with a service account: a token from /api/oauth/token, then Bearer with the versioned Accept.
      const { baseUrl, orgId, clientId, clientSecret } = sandbox.connection as Record<string, string>;
      expect(baseUrl).toBe(`${sandbox.simulator.origin}/api/atlas/v2`);
      const tokenRes = await fetch(`${sandbox.simulator.origin}/api/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
      const { access_token } = (await tokenRes.json()) as { access_token: string };
      const res = await fetch(`${baseUrl}/orgs/${orgId}/apiKeys/${sandbox.demoKeyIds[0]}`, {
        headers: { authorization: `Bearer ${access_token}`, accept: 'application/vnd.atlas.2023-01-01+json' },
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { desc: string }).desc).toBe('CI deploys');
    } finally {
      await sandbox.simulator.close();
    }
  });
});
