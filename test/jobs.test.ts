/**
 * Issue 19 part 2: bulk update jobs over real HTTP against the Mesa simulator (SQLite audit store):
 * results in input order, per-key order, validation and scope failures per item, limits, cancel,
 * and what the vendor received. Waits are for conditions; assertions are counts and order.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMesaSimulator, demoKey, type MesaSimulator } from '../providers/mesa/simulator.ts';
import { patchApplied } from '../src/jobs/runner.ts';
import { fingerprintKeyId } from '../src/core/key-ids.ts';
import { registerSecret, startGateway, type TestGateway } from './harness.ts';

const TOKEN = 'mesa_jobs_admin_0a1b2c3d4e';
const T = {
  admin: 'kg_jobs_admin_token_aaaa1111',
  mesaOnly: 'kg_jobs_mesa_only_bbbb2222',
  reader: 'kg_jobs_reader_cccc3333',
  auditor: 'kg_jobs_auditor_dddd4444',
  mesa2Auditor: 'kg_jobs_mesa2_auditor_eeee5555',
};
registerSecret(TOKEN, ...Object.values(T));
const N = 12;

let sim: MesaSimulator;
let gw: TestGateway;

const JOB_FIELDS = 'id state caller progress { total done failed cancelled } createdAt startedAt finishedAt';
const START = `mutation($u: [ApiKeyUpdateInput!]!) { startApiKeyUpdateJob(updates: $u) { ${JOB_FIELDS} } }`;
const GET = `query($id: ID!, $first: Int, $after: String) { apiKeyUpdateJob(id: $id) { ${JOB_FIELDS}
  results(first: $first, after: $after) { edges { cursor node { index state provider id apiKey { id tags { key value } } error { code message } } } pageInfo { hasNextPage endCursor } } } }`;

const tag = (i: number, value = 'alice') => ({ provider: 'mesa', id: `key_j${i}`, patch: { setTags: [{ key: 'owner', value }] } });

async function finished(id: string, as = T.admin): Promise<Record<string, any>> {
  for (let i = 0; i < 1500; i++) {
    const res = await gw.as(as)(GET, { id, first: 1000 });
    const job = res.body.data?.apiKeyUpdateJob;
    if (job && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.state)) return job;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`job ${id} did not finish`);
}

beforeAll(async () => {
  sim = await createMesaSimulator({
    org: 'acme',
    tokens: { [TOKEN]: ['admin'] },
    keys: Array.from({ length: N }, (_, i) => demoKey(`key_j${i}`, `k${i}`, { env: 'prod' })),
  });
  const mesa = { kind: 'mesa', baseUrl: sim.baseUrl, org: 'acme', token: TOKEN, maxConcurrency: 3, rateLimit: { requests: 50, perSeconds: 1, burst: 4 } };
  gw = await startGateway({
    providers: { mesa, mesa2: { ...mesa } },
    auth: {
      tokens: [
        { name: 'admin', token: T.admin, scopes: ['keys:write', 'keys:read'] },
        { name: 'mesa-only', token: T.mesaOnly, scopes: ['keys:write:mesa'] },
        { name: 'reader', token: T.reader, scopes: ['keys:read'] },
        { name: 'auditor', token: T.auditor, scopes: ['audit:read'] },
        { name: 'mesa2-auditor', token: T.mesa2Auditor, scopes: ['audit:read:mesa2'] },
      ],
    },
    limits: { maxJobItems: 20, maxUpdatesPerRequest: 5 },
  });
});
afterAll(async () => {
  await gw?.close();
  await sim?.close();
});
beforeEach(() => sim.reset());

describe('bulk update jobs', () => {
  it('runs every item once, paced and bounded, with results in input order; a bad item fails alone', async () => {
    const updates = [
      ...Array.from({ length: N }, (_, i) => tag(i)),
      { provider: 'mesa', id: 'key_j0', patch: { setTags: [{ key: 'x'.repeat(65), value: 'v' }] } },
    ];
    const start = await gw.as(T.admin)(START, { u: updates });
    expect(start.body.errors).toBeUndefined();
    const started = start.body.data!.startApiKeyUpdateJob;
    expect(started).toMatchObject({ caller: 'token:admin', progress: { total: N + 1 } });
    expect(['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED']).toContain(started.state);

    const job = await finished(started.id);
    expect(job).toMatchObject({ state: 'FAILED', progress: { total: N + 1, done: N, failed: 1, cancelled: 0 } });
    const nodes = job.results.edges.map((e: any) => e.node);
    expect(nodes.map((n: any) => n.index)).toEqual(Array.from({ length: N + 1 }, (_, i) => i));
    expect(nodes.slice(0, N).every((n: any) => n.state === 'SUCCEEDED' && n.apiKey.tags.some((t: any) => t.key === 'owner' && t.value === 'alice'))).toBe(true);
    expect(nodes[N]).toMatchObject({ state: 'FAILED', apiKey: null, error: { code: 'BAD_USER_INPUT' } });
    // Each key written once; the bad item never sent; never more than maxConcurrency in flight.
    const writes = sim.writes().map((r) => r.path);
    expect(writes.sort()).toEqual(Array.from({ length: N }, (_, i) => `/v1/acme/api-keys/key_j${i}`).sort());
    expect(sim.maxInFlight()).toBeLessThanOrEqual(3);
    expect(job.startedAt).not.toBeNull();
    expect(job.finishedAt).not.toBeNull();

    // The audit log holds one update per item, under the job's request id.
    const audit = await gw.as(T.auditor)(`{ auditLog(filter: { provider: "mesa" }, first: 50) { edges { node { requestId operation outcome keyId } } } }`);
    const rows = audit.body.data!.auditLog.edges.map((e: any) => e.node).filter((n: any) => n.requestId === `job:${started.id}`);
    expect(rows).toHaveLength(N + 1);
    expect(rows.filter((r: any) => r.outcome === 'OK')).toHaveLength(N);
  });

  it('applies items for one key in input order, and pages results with cursors', async () => {
    const updates = [tag(1, 'first'), tag(2, 'x'), tag(1, 'second'), tag(1, 'third')];
    const { id } = (await gw.as(T.admin)(START, { u: updates })).body.data!.startApiKeyUpdateJob;
    const job = await finished(id);
    expect(job.state).toBe('SUCCEEDED');
    expect(
      sim
        .writes()
        .filter((r) => r.path.endsWith('/key_j1'))
        .map((r) => (r.body as any).tags.owner),
    ).toEqual(['first', 'second', 'third']);
    expect(sim.keys.get('key_j1')!.tags.owner).toBe('third');
    const page1 = (await gw.as(T.admin)(GET, { id, first: 3 })).body.data!.apiKeyUpdateJob.results;
    expect(page1.edges.map((e: any) => e.node.index)).toEqual([0, 1, 2]);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = (await gw.as(T.admin)(GET, { id, first: 3, after: page1.pageInfo.endCursor })).body.data!.apiKeyUpdateJob.results;
    expect(page2.edges.map((e: any) => e.node.index)).toEqual([3]);
    expect(page2.pageInfo.hasNextPage).toBe(false);
  });

  it('scopes: items on a provider the caller may not write fail FORBIDDEN, the others run; reading needs keys:write or audit:read', async () => {
    const updates = [tag(3), { ...tag(4), provider: 'mesa2' }, tag(5)];
    const { id } = (await gw.as(T.mesaOnly)(START, { u: updates })).body.data!.startApiKeyUpdateJob;
    const job = await finished(id, T.mesaOnly);
    expect(job.results.edges.map((e: any) => [e.node.state, e.node.error?.code ?? null])).toEqual([
      ['SUCCEEDED', null],
      ['FAILED', 'FORBIDDEN'],
      ['SUCCEEDED', null],
    ]);
    expect(
      sim
        .writes()
        .map((r) => r.path)
        .sort(),
    ).toEqual(['/v1/acme/api-keys/key_j3', '/v1/acme/api-keys/key_j5']);
    expect((await gw.as(T.auditor)(GET, { id })).body.data!.apiKeyUpdateJob.id).toBe(id);
    // A reader with no scope on `mesa` sees those items' state and the id's fingerprint only.
    const narrow = (await gw.as(T.mesa2Auditor)(GET, { id, first: 10 })).body.data!.apiKeyUpdateJob.results.edges.map((e: any) => e.node);
    expect(narrow.map((n: any) => [n.provider, n.id, n.apiKey, n.error?.code ?? null])).toEqual([
      ['mesa', fingerprintKeyId('key_j3'), null, null],
      ['mesa2', 'key_j4', null, 'FORBIDDEN'],
      ['mesa', fingerprintKeyId('key_j5'), null, null],
    ]);
    const denied = await gw.as(T.reader)(GET, { id });
    expect(denied.body.errors?.[0].extensions.code).toBe('FORBIDDEN');
    const refused = await gw.as(T.reader)(START, { u: [tag(6)] });
    expect(refused.body.errors?.[0].extensions.code).toBe('FORBIDDEN');
    const list = await gw.as(T.auditor)(`{ apiKeyUpdateJobs(first: 2) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`);
    expect(list.body.data!.apiKeyUpdateJobs.edges[0].node.id).toBe(id);
    expect(list.body.data!.apiKeyUpdateJobs.pageInfo.hasNextPage).toBe(true);
  });

  it('limits: over limits.maxJobItems, or two jobs in one request, is BAD_USER_INPUT and nothing runs; job items do not count against maxUpdatesPerRequest', async () => {
    const over = await gw.as(T.admin)(START, { u: Array.from({ length: 21 }, (_, i) => tag(i % N)) });
    expect(over.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', limit: 'maxJobItems', max: 20, count: 21 } });
    expect(over.body.errors?.[0].message).toMatch(/^limits\.maxJobItems: a job holds at most 20 items \(got 21\); nothing was started$/);
    const two = await gw.as(T.admin)(
      `mutation($u: [ApiKeyUpdateInput!]!) { a: startApiKeyUpdateJob(updates: $u) { id } b: startApiKeyUpdateJob(updates: $u) { id } }`,
      { u: [tag(0)] },
    );
    // The first refuses (non-null), so the mutation stops there: neither starts.
    expect(two.body.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: expect.stringMatching(/one request starts at most one job \(this one asks for 2\)/),
    });
    expect(two.body.data).toBeNull();
    const empty = await gw.as(T.admin)(START, { u: [] });
    expect(empty.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    // 20 items with maxUpdatesPerRequest 5: a job is accepted.
    const { id } = (await gw.as(T.admin)(START, { u: Array.from({ length: 20 }, (_, i) => tag(i % N, 'bob')) })).body.data!.startApiKeyUpdateJob;
    const job = await finished(id);
    expect(job.progress).toMatchObject({ total: 20, done: 20 });
    expect(sim.writes()).toHaveLength(20);
  });

  it('cancel: items not started are not run', async () => {
    const slow = await startGateway({
      providers: {
        mesa: { kind: 'mesa', baseUrl: sim.baseUrl, org: 'acme', token: TOKEN, maxConcurrency: 1, rateLimit: { requests: 2, perSeconds: 1, burst: 1 } },
      },
    });
    try {
      const { id } = (await slow.gql(START, { u: Array.from({ length: 10 }, (_, i) => tag(i, 'carol')) })).body.data!.startApiKeyUpdateJob;
      for (let i = 0; i < 500 && sim.writes().length < 1; i++) await new Promise((r) => setTimeout(r, 20));
      const cancel = await slow.gql(`mutation($id: ID!) { cancelApiKeyUpdateJob(id: $id) { id } }`, { id });
      expect(cancel.body.errors).toBeUndefined();
      let job: any;
      for (let i = 0; i < 1000; i++) {
        job = (await slow.gql(GET, { id, first: 100 })).body.data!.apiKeyUpdateJob;
        if (job.state === 'CANCELLED') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(job.state).toBe('CANCELLED');
      expect(job.progress.cancelled).toBeGreaterThan(0);
      expect(job.progress.done + job.progress.cancelled).toBe(10);
      expect(sim.writes()).toHaveLength(job.progress.done);
      const again = await slow.gql(`mutation($id: ID!) { cancelApiKeyUpdateJob(id: $id) { state } }`, { id });
      expect(again.body.data!.cancelApiKeyUpdateJob.state).toBe('CANCELLED');
      const unknown = await slow.gql(`mutation { cancelApiKeyUpdateJob(id: "nope") { id } }`);
      expect(unknown.body.errors?.[0].extensions.code).toBe('NOT_FOUND');
    } finally {
      await slow.close();
    }
  });

  it('without an audit store jobs are UNSUPPORTED_OPERATION', async () => {
    const off = await startGateway({ providers: { mesa: { kind: 'mesa', baseUrl: sim.baseUrl, org: 'acme', token: TOKEN } }, audit: false });
    try {
      const res = await off.gql(START, { u: [tag(0)] });
      expect(res.body.errors?.[0].extensions.code).toBe('UNSUPPORTED_OPERATION');
      expect(sim.requests).toHaveLength(0);
    } finally {
      await off.close();
    }
  });
});

describe('patchApplied (the read-back of a PENDING item)', () => {
  const key = {
    id: 'k',
    name: 'n',
    enabled: true,
    roles: ['a', 'b'],
    tags: [{ key: 'owner', value: 'alice' }],
    expiresAt: new Date(1000),
    updatedAt: null,
    raw: {},
  };
  it('is true only when every field the patch sets is already so', () => {
    expect(patchApplied(key, { setTags: [{ key: 'Owner', value: 'alice' }] })).toBe(true);
    expect(patchApplied(key, { setTags: [{ key: 'owner', value: 'bob' }] })).toBe(false);
    expect(patchApplied(key, { removeTags: ['team'], roles: ['b', 'a'], enabled: true, name: 'n', expiresAt: new Date(1000) })).toBe(true);
    expect(patchApplied(key, { removeTags: ['owner'] })).toBe(false);
    expect(patchApplied(key, { enabled: false })).toBe(false);
    expect(patchApplied(key, { tyk: { rate: 1 } })).toBe(false);
    // Every vendor's own fields: not on the normalized key, so never taken as applied.
    expect(patchApplied(key, { cloudflare: { not_before: '2030-01-01T00:00:00Z' } })).toBe(false);
    expect(patchApplied(key, { confluent: { description: 'd' } })).toBe(false);
    expect(patchApplied(key, { algolia: { validity: 0 } })).toBe(false);
  });
});
