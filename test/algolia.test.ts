import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { algoliaKey, createAlgoliaSimulator, type AlgoliaSimulator } from '../providers/algolia/simulator.ts';
import { algoliaAdapter } from '../providers/algolia/adapter.ts';
import { registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

const APP = 'TESTAPP42';
const ADMIN = 'algolia_test_admin_key_6c7d8e9f0a1b';
/** A usable non-admin key: a credential of the `notadmin` connection, so never selected as an id here. */
const SEARCH_ONLY = 'algolia_test_search_only_key_2b3c';
registerSecret(ADMIN, SEARCH_ONLY);
const K1 = '13ad45b4d0a2f6ea65ecbddf6aa260f2';
const UPDATED = '2026-07-07T07:07:07.000Z';

let sim: AlgoliaSimulator;
let gw: TestGateway;

beforeAll(async () => {
  sim = await createAlgoliaSimulator({
    applicationId: APP,
    adminKey: ADMIN,
    keys: [
      algoliaKey(K1, 'Storefront', {
        indexes: ['products'],
        referers: ['https://shop.example.com/*'],
        maxQueriesPerIPPerHour: 1000,
        queryParameters: 'typoTolerance=strict',
      }),
      algoliaKey('k2', 'Indexer', { acl: ['addObject'] }),
      algoliaKey('k3', 'Reader', { acl: ['search', 'browse'] }),
      algoliaKey(SEARCH_ONLY, 'Search only'),
    ],
    now: () => new Date(UPDATED),
  });
  gw = await startGateway({
    providers: {
      // No pacing: the 429 below would pause the connection (test/rate-limit-headers.test.ts covers that).
      algolia: { kind: 'algolia', baseUrl: sim.baseUrl, applicationId: APP, apiKey: ADMIN, rateLimit: false },
      notadmin: { kind: 'algolia', baseUrl: sim.baseUrl, applicationId: APP, apiKey: SEARCH_ONLY },
    },
  });
});
afterAll(async () => {
  await gw?.close();
  await sim?.close();
});
beforeEach(() => sim.reset());

describe('algolia', () => {
  it('reads the key, PUTs every attribute back with the patch applied, and answers the key as written', async () => {
    const res = await gw.gql(UPDATE, {
      provider: 'algolia',
      id: K1,
      patch: { name: 'Storefront v2', roles: ['search', 'browse'], algolia: { maxHitsPerQuery: 50 } },
    });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.updateApiKey).toMatchObject({ kind: 'ALGOLIA', id: K1, name: 'Storefront v2', roles: ['search', 'browse'], updatedAt: UPDATED });
    expect(sim.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /1/keys/${K1}`, `PUT /1/keys/${K1}`]);
    const written = {
      acl: ['search', 'browse'],
      description: 'Storefront v2',
      indexes: ['products'],
      maxHitsPerQuery: 50,
      maxQueriesPerIPPerHour: 1000,
      queryParameters: 'typoTolerance=strict',
      referers: ['https://shop.example.com/*'],
      validity: 0,
    };
    expect(sim.requests[1].body).toEqual(written);
    expect(res.body.data?.updateApiKey.raw).toEqual(written);
    expect(sim.requests[1].headers).toMatchObject({ 'x-algolia-application-id': APP, 'x-algolia-api-key': ADMIN });
    // Nothing was reset to its default.
    expect(sim.keys.get(K1)).toMatchObject({ referers: ['https://shop.example.com/*'], queryParameters: 'typoTolerance=strict' });
  });

  it('reads and lists keys, the key values redacted in raw', async () => {
    const res = await gw.gql(`{
      one: apiKey(provider: "algolia", id: "k2") { id name roles raw }
      all: apiKeys(provider: "algolia", first: 10) { edges { node { name raw } } pageInfo { hasNextPage } }
    }`);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.one).toMatchObject({ id: 'k2', name: 'Indexer', roles: ['addObject'], raw: { value: '[redacted]' } });
    expect(res.body.data?.all.edges.map((e: any) => e.node.raw.value)).toEqual(['[redacted]', '[redacted]', '[redacted]', '[redacted]']);
    expect(res.body.data?.all.pageInfo.hasNextPage).toBe(false);
  });

  it('answers the key as written even when Algolia still shows the old one for a while', async () => {
    const slow = await createAlgoliaSimulator({ applicationId: APP, adminKey: ADMIN, keys: [algoliaKey('k9', 'Before')], staleReads: 1 });
    const lagging = await startGateway({ providers: { algolia: { kind: 'algolia', baseUrl: slow.baseUrl, applicationId: APP, apiKey: ADMIN } } });
    try {
      const res = await lagging.gql(UPDATE, { provider: 'algolia', id: 'k9', patch: { name: 'After' } });
      expect(res.body.data?.updateApiKey).toMatchObject({ name: 'After', raw: { description: 'After' } });
      const read = await lagging.gql('{ apiKey(provider: "algolia", id: "k9") { name } }');
      expect(read.body.data?.apiKey.name).toBe('Before');
      expect(slow.keys.get('k9')?.description).toBe('After');
    } finally {
      await lagging.close();
      await slow.close();
    }
  });

  it('marks the key id as a secret', () => {
    expect(algoliaAdapter.idIsSecret?.({ baseUrl: 'http://x' } as never)).toBe(true);
  });

  it('maps {message, status}: 403 for a non-admin key, 404, 400', async () => {
    const na = (await gw.gql(UPDATE, { provider: 'notadmin', id: 'k2', patch: { name: 'x' } })).body.errors![0];
    expect(na.extensions).toMatchObject({ code: 'FORBIDDEN', upstream: { status: 403, message: 'Method not allowed with this API key' } });
    const missing = (await gw.gql(UPDATE, { provider: 'algolia', id: 'nope', patch: { name: 'x' } })).body.errors![0];
    expect(missing.extensions).toMatchObject({ code: 'NOT_FOUND', upstream: { status: 404, message: 'Key does not exist' } });
    sim.inject({ method: 'PUT', response: { status: 400, json: { message: 'Invalid acl: nlu', status: 400 } } });
    const bad = (await gw.gql(UPDATE, { provider: 'algolia', id: 'k2', patch: { name: 'x' } })).body.errors![0];
    expect(bad.extensions).toMatchObject({ code: 'BAD_USER_INPUT', upstream: { status: 400, message: 'Invalid acl: nlu' } });
    sim.inject({ times: 5, response: { status: 429, headers: { 'retry-after': '60' }, json: { message: 'Too many requests', status: 429 } } });
    const limited = (await gw.gql(UPDATE, { provider: 'algolia', id: 'k2', patch: { name: 'x' } })).body.errors![0];
    expect(limited.extensions).toMatchObject({ code: 'RATE_LIMITED', upstream: { status: 429, retryAfter: 60 } });
  });

  it('refuses an unknown ACL, a negative limit, empty roles and unsupported fields before sending', async () => {
    const err = (await gw.gql(UPDATE, { provider: 'algolia', id: 'k2', patch: { roles: ['search', 'root'], algolia: { validity: -1 } } })).body.errors![0];
    expect(err.extensions.code).toBe('BAD_USER_INPUT');
    expect(err.message).toContain('patch.roles[1] "root" is not allowed');
    expect(err.message).toContain('patch.algolia.validity must be at least 0');
    expect((await gw.gql(UPDATE, { provider: 'algolia', id: 'k2', patch: { roles: [] } })).body.errors![0].extensions.code).toBe('BAD_USER_INPUT');
    expect((await gw.gql(UPDATE, { provider: 'algolia', id: 'k2', patch: { enabled: false } })).body.errors![0].extensions.code).toBe('UNSUPPORTED_FIELD');
    expect(sim.requests).toHaveLength(0);
  });

  it('previews the read and the PUT with both headers redacted; before.raw has the value redacted', async () => {
    const res = await gw.gql(
      '{ previewApiKeyUpdate(provider: "algolia", id: "k3", patch: { algolia: { indexes: ["a"] } }) { requests { method headers body } before { raw } } }',
    );
    expect(res.body.errors).toBeUndefined();
    const p = res.body.data?.previewApiKeyUpdate;
    expect(p.requests[1]).toMatchObject({ method: 'PUT', body: { acl: ['search', 'browse'], indexes: ['a'], description: 'Reader' } });
    expect(p.requests[1].headers).toMatchObject({ 'x-algolia-api-key': '[redacted]' });
    expect(p.before.raw.value).toBe('[redacted]');
    expect(sim.writes()).toHaveLength(0);
  });
});
