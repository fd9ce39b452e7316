/**
 * The PostgreSQL audit store's connections and key lock, against the real database.
 *
 * PostgreSQL drops a connection keygate holds (pg_terminate_backend — what a restart or a failover
 * does to every session): at the key lock's wait, while the lock is held mid-vendor-call, during
 * an audit write, and idle in the pools. keygate runs as a real process, so an unhandled 'error'
 * event would kill it: the affected call answers a contract error, the others go on, and the next
 * call works on a fresh connection. And the wait for another replica's key lock takes only what
 * is left of the call's deadline.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, escapeIdentifier } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresAuditStore } from '../src/audit/postgres.ts';
import { startDeadline } from '../src/core/deadline.ts';
import { KeyLockError } from '../src/core/key-lock.ts';
import { basicKey, createBasicSimulator, type BasicSimulator } from '../providers/basic/simulator.ts';
import { faults } from '../sandbox/simulator-kit.ts';
import { createTykSimulator, demoSession, type TykSimulator } from '../providers/tyk/simulator.ts';
import { recordSeen, registerSecret, startGatewayChild, until, type GatewayProcess } from './harness.ts';
import { fakeClock } from './fake-clock.ts';
import { dropSchema, sql, testDatabaseUrl, uniqueSchema } from './pg.ts';
import { fingerprintKeyId } from '../src/core/key-ids.ts';

const TYK_SECRET = 'tyk_pgloss_admin_secret_31cd';
const BASIC_TOKEN = 'basic_pgloss_token_9a8b7c';
registerSecret(TYK_SECRET, BASIC_TOKEN);
const KEY_A = 'aaaa9544a1dcd60001d0ed20ffffeeeeddddccccbbbbaaaa99998888';
const KEY_B = 'bbbb9544a1dcd60001d0ed20ffffeeeeddddccccbbbbaaaa99998888';
const PROJECT = 'proj-pgloss';

let tyk: TykSimulator;
let basic: BasicSimulator;
let gw: GatewayProcess;
let dir: string;
const schema = uniqueSchema('pgloss');

beforeAll(async () => {
  tyk = await createTykSimulator({ adminSecret: TYK_SECRET, keys: { [KEY_A]: demoSession('a', ['base']), [KEY_B]: demoSession('b', ['base']) } });
  basic = await createBasicSimulator({ projects: { [PROJECT]: { tokens: [BASIC_TOKEN] } }, keys: { [PROJECT]: [basicKey('key-1', 'Mobile', 'read')] } });
  dir = mkdtempSync(join(tmpdir(), 'keygate-pgloss-'));
  const file = join(dir, 'keygate.yaml');
  writeFileSync(
    file,
    [
      'providers:',
      '  tyk:',
      '    kind: tyk',
      `    baseUrl: ${tyk.baseUrl}`,
      `    adminSecret: ${TYK_SECRET}`,
      '    retry: { attempts: 1 }',
      '  basic:',
      '    kind: basic',
      `    baseUrl: ${basic.baseUrl}`,
      `    project: ${PROJECT}`,
      `    token: ${BASIC_TOKEN}`,
      'audit:',
      `  postgres: ${await testDatabaseUrl()}`,
      `  schema: ${schema}`,
      '',
    ].join('\n'),
  );
  gw = await startGatewayChild(file);
});
afterAll(async () => {
  await gw?.stop();
  await tyk?.close();
  await basic?.close();
  await dropSchema(schema);
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  tyk.reset();
  basic.reset();
});

interface Answer {
  data?: Record<string, { id: string } | null> | null;
  errors?: Array<{ message: string; extensions: Record<string, unknown> }>;
}

/** A GraphQL call; a dropped connection (keygate died) comes back as an error naming it and keygate's output. */
async function post(query: string): Promise<Answer> {
  try {
    const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    const text = await res.text();
    recordSeen(text);
    return JSON.parse(text);
  } catch (err) {
    return { errors: [{ message: `no answer: ${(err as Error).message}\n${gw.output()}`, extensions: { code: 'NO_ANSWER' } }] };
  }
}

const updateTyk = (id: string, tag: string) => post(`mutation { updateApiKey(provider: "tyk", id: "${id}", patch: { setTags: [{ key: "${tag}" }] }) { id } }`);
const updateBasic = (name: string) => post(`mutation { updateApiKey(provider: "basic", id: "key-1", patch: { name: "${name}" }) { id } }`);

/** The advisory lock keygate takes for a Tyk key (src/audit/postgres.ts): its backends, holding or waiting. */
async function lockBackends(id: string, granted: boolean): Promise<number[]> {
  const rows = await sql<{ pid: number }>(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted = $2
       AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)`,
    [`keygate:${schema}:tyk:${tyk.baseUrl}:${id}`, granted],
  );
  return rows.map((r) => r.pid);
}

async function terminate(pids: number[]): Promise<void> {
  expect(pids.length).toBeGreaterThan(0);
  await sql('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
}

/** A connection of the test's own, in a transaction that holds what `statement` takes until `end()`. */
async function holdInTransaction(statement: string, params: unknown[] = []): Promise<Client> {
  const client = new Client({ connectionString: await testDatabaseUrl() });
  await client.connect();
  await client.query('BEGIN');
  await client.query(statement, params);
  return client;
}

const TAKE_KEY_LOCK = 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))';

/** What `probe` finds, once it finds something. */
async function waitFor<T>(probe: () => Promise<T[]>): Promise<T[]> {
  let found: T[] = [];
  await until(
    async () => {
      found = await probe();
      return found.length > 0;
    },
    { timeoutMs: 15_000, what: 'the backends to appear' },
  );
  return found;
}

/** The outcome rows of a Tyk key, whose id the audit log keeps as its fingerprint. */
async function outcomes(keyId: string): Promise<Array<{ outcome: string; attempts: number | null; upstream_status: number | null }>> {
  return sql(`SELECT outcome, attempts, upstream_status FROM ${escapeIdentifier(schema)}.audit_log WHERE key_id = $1 AND phase = 'outcome' ORDER BY seq`, [
    fingerprintKeyId(keyId),
  ]);
}

function expectAlive(): void {
  expect(gw.child.exitCode, gw.output()).toBeNull();
  expect(gw.output()).not.toMatch(/Unhandled 'error' event|uncaught/i);
}

/**
 * While `held` blocks keygate, cuts the backends `blocked` finds: the call must answer
 * AUDIT_UNAVAILABLE with nothing `sent` to the vendor, and keygate must live on.
 */
async function expectRefusedWhenCut(held: Client, call: Promise<Answer>, blocked: () => Promise<number[]>, sent: () => unknown[]): Promise<void> {
  try {
    await terminate(await waitFor(blocked));
    const refused = await call;
    expect(refused.errors?.[0].extensions.code, JSON.stringify(refused)).toBe('AUDIT_UNAVAILABLE');
    expect(sent()).toEqual([]);
    expectAlive();
  } finally {
    await held.end();
  }
}

describe('PostgreSQL drops a connection keygate holds', () => {
  it('while the key lock is held mid-PUT: that call answers UPSTREAM_UNAVAILABLE saying the PUT may have been applied; calls in flight on other keys and providers go on', async () => {
    tyk.inject(faults.delay(4000, { method: 'PUT', times: 2 }));
    basic.inject(faults.delay(4000, { method: 'PATCH', times: 1 }));
    const a = updateTyk(KEY_A, 'lost');
    const b = updateTyk(KEY_B, 'kept');
    const other = updateBasic('Mobile v2');
    await until(() => tyk.requests.filter((r) => r.method === 'PUT').length === 2 && basic.requests.length === 1);
    await terminate(await lockBackends(KEY_A, true));

    const lost = await a;
    expect(lost.errors?.[0].extensions.code, JSON.stringify(lost)).toBe('UPSTREAM_UNAVAILABLE');
    expect(lost.errors?.[0].message).toMatch(/key lock.*lost.*may have been applied/);
    expect((await b).errors, JSON.stringify(await b)).toBeUndefined();
    expect((await other).errors).toBeUndefined();
    expectAlive();
    // Its audit entry: one PUT sent, no answer (the vendor may have applied it).
    expect((await outcomes(KEY_A)).at(-1)).toEqual({ outcome: 'UPSTREAM_UNAVAILABLE', attempts: 1, upstream_status: null });

    // The next update of that key takes the lock on a fresh connection.
    tyk.reset();
    expect((await updateTyk(KEY_A, 'after')).errors).toBeUndefined();
    expect(tyk.requests.map((r) => r.method)).toEqual(['GET', 'PUT']);
    expectAlive();
  });

  it('while waiting for the key lock: that call answers AUDIT_UNAVAILABLE with nothing sent; the next one works', async () => {
    // Another "replica" (this test) holds the key's lock, so keygate's lock connection waits.
    const holder = await holdInTransaction(TAKE_KEY_LOCK, [`keygate:${schema}:tyk:${tyk.baseUrl}:${KEY_A}`]);
    await expectRefusedWhenCut(
      holder,
      updateTyk(KEY_A, 'waiting'),
      () => lockBackends(KEY_A, false),
      () => tyk.requests,
    );
    expect((await updateTyk(KEY_A, 'next')).errors).toBeUndefined();
    expect(tyk.requests.map((r) => r.method)).toEqual(['GET', 'PUT']);
  });

  it('during an audit write: that call answers AUDIT_UNAVAILABLE with nothing sent; the next one works', async () => {
    // A table lock held by this test makes keygate's intent INSERT wait, so it can be cut mid-write.
    const blocker = await holdInTransaction(`LOCK TABLE ${escapeIdentifier(schema)}.audit_log IN SHARE MODE`);
    const writers = async () =>
      (
        await sql<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`, [
          `INSERT INTO ${escapeIdentifier(schema)}.audit_log%`,
        ])
      ).map((r) => r.pid);
    await expectRefusedWhenCut(blocker, updateBasic('during audit write'), writers, () => basic.requests);
    expect((await updateBasic('after audit write')).errors).toBeUndefined();
    expect(basic.requests).toHaveLength(1);
  });

  it('idle in the pools: the next calls open fresh connections', async () => {
    // Note the lock connection's backend while it holds the lock; afterwards it sits idle in the pool.
    // Slow enough that the lock is still held when the query below looks for its backend.
    tyk.inject(faults.delay(2_000, { method: 'PUT', times: 1 }));
    const a = updateTyk(KEY_A, 'before idle');
    const lockPids = await waitFor(() => lockBackends(KEY_A, true));
    expect((await a).errors).toBeUndefined();
    const auditPids = (
      await sql<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE state = 'idle' AND query LIKE $1`, [`%${escapeIdentifier(schema)}.audit_log%`])
    ).map((r) => r.pid);
    await terminate([...lockPids, ...auditPids]);

    tyk.reset();
    expect((await updateTyk(KEY_A, 'after idle')).errors).toBeUndefined();
    expect((await updateBasic('after idle')).errors).toBeUndefined();
    expect(tyk.requests.map((r) => r.method)).toEqual(['GET', 'PUT']);
    expectAlive();
  });
});

describe('the PostgreSQL key lock under a call deadline', () => {
  const SCOPE = 'tyk:http://deadline.test';

  it("waits for another replica's lock only what is left of the call's deadline", async () => {
    const store = await createPostgresAuditStore(await testDatabaseUrl(), schema);
    const holder = await holdInTransaction(TAKE_KEY_LOCK, [`keygate:${schema}:${SCOPE}:k`]);
    // A 60 s deadline of which all but 300 ms went before the lock (the injected clock says so):
    // the lock gives up after those 300 ms, not after a minute (the test would time out).
    const clock = fakeClock();
    const deadline = startDeadline(60_000, clock);
    await clock.advance(59_700);
    const ran: string[] = [];
    try {
      const err = await store.createKeyLock!(SCOPE)
        .run('k', deadline, async () => void ran.push('work'))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeyLockError);
      expect((err as KeyLockError).kind).toBe('timeout');
      expect((err as KeyLockError).message).toContain("past this call's deadline of 60000 ms");
      expect(ran).toEqual([]);
      // Once the other holder lets go, the next call takes the lock.
      await holder.end();
      expect(await store.createKeyLock!(SCOPE).run('k', startDeadline(5_000), async () => 'ran')).toBe('ran');
    } finally {
      deadline.dispose();
      await holder.end().catch(() => undefined);
      await store.close();
    }
  });

  it('gives up at once, running nothing, once the deadline has passed', async () => {
    const store = await createPostgresAuditStore(await testDatabaseUrl(), schema);
    const clock = fakeClock();
    const deadline = startDeadline(60_000, clock);
    await clock.advance(60_000);
    try {
      const ran: string[] = [];
      const err = await store.createKeyLock!(SCOPE)
        .run('k', deadline, async () => void ran.push('work'))
        .catch((e: unknown) => e);
      expect((err as KeyLockError).kind).toBe('timeout');
      expect(ran).toEqual([]);
    } finally {
      deadline.dispose();
      await store.close();
    }
  });
});
