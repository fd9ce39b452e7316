/**
 * Issue 19 part 2, durability: keygate as a real process, SIGKILLed mid-job. Restarted on its
 * SQLite file it finishes the job; a second replica on one PostgreSQL takes over a job whose
 * replica died. In both, the Mesa simulator counts every item applied exactly once — including
 * the item in flight at the kill (PENDING: read back, found applied, not sent again).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesaSimulator, demoKey, type MesaSimulator } from '../providers/mesa/simulator.ts';
import { faults } from '../sandbox/simulator-kit.ts';
import { recordSeen, registerSecret, startGatewayChild, until, type GatewayProcess } from './harness.ts';
import { dropSchema, testDatabaseUrl, uniqueSchema } from './pg.ts';

const TOKEN = 'mesa_durable_admin_7e6d5c4b';
registerSecret(TOKEN);
const N = 12;

let sim: MesaSimulator;
let dir: string;
const children: GatewayProcess[] = [];
const schema = uniqueSchema('jobs');

beforeAll(async () => {
  sim = await createMesaSimulator({
    org: 'acme',
    tokens: { [TOKEN]: ['admin'] },
    keys: Array.from({ length: N }, (_, i) => demoKey(`key_d${i}`, `k${i}`, {})),
  });
  dir = mkdtempSync(join(tmpdir(), 'keygate-jobs-'));
});
afterAll(async () => {
  for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  await sim?.close();
  await dropSchema(schema);
  rmSync(dir, { recursive: true, force: true });
});

function configFile(name: string, audit: string[]): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      'providers:',
      '  mesa:',
      '    kind: mesa',
      `    baseUrl: ${sim.baseUrl}`,
      '    org: acme',
      `    token: ${TOKEN}`,
      '    maxConcurrency: 1',
      // Slow enough that the kill lands mid-job: 5 writes a second.
      '    rateLimit: { requests: 5, perSeconds: 1, burst: 1 }',
      '    deadlineMs: 30000',
      'audit:',
      ...audit,
    ].join('\n'),
  );
  return file;
}

async function start(file: string): Promise<GatewayProcess> {
  const child = await startGatewayChild(file);
  children.push(child);
  return child;
}

async function gql(url: string, query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  recordSeen(text);
  return JSON.parse(text);
}

const START = `mutation($u: [ApiKeyUpdateInput!]!) { startApiKeyUpdateJob(updates: $u) { id } }`;
const STATE = `query($id: ID!) { apiKeyUpdateJob(id: $id) { state progress { total done failed } } }`;

async function waitFinished(url: string, id: string): Promise<any> {
  for (let i = 0; i < 3000; i++) {
    const job = (await gql(url, STATE, { id })).data?.apiKeyUpdateJob;
    if (job && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.state)) return job;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the job did not finish');
}

/** Kills `child` while the simulator holds its `k`-th write (delayed), and waits until that write is applied. */
/** Child processes, a kill, a restart and (with PostgreSQL) a 10 s lease to lapse: generous on a loaded machine. */
const CRASH_TEST_MS = 120_000;

async function killMidWrite(child: GatewayProcess, k: number): Promise<void> {
  const patches = () => sim.requests.filter((r) => r.method === 'PATCH');
  await until(() => patches().length >= k, { timeoutMs: 30_000 });
  child.child.kill('SIGKILL');
  await new Promise((r) => child.child.once('exit', r));
  // The held write completes at the vendor although keygate never hears of it.
  await until(() => patches().every((r) => r.status !== undefined), { timeoutMs: 30_000 });
}

function appliedOncePerKey(value: string): void {
  const writes = sim.writes().filter((r) => (r.body as { tags: Record<string, string> }).tags.owner === value);
  const perKey = new Map<string, number>();
  for (const w of writes) perKey.set(w.path, (perKey.get(w.path) ?? 0) + 1);
  expect(perKey.size).toBe(N);
  expect([...perKey.values()].every((n) => n === 1)).toBe(true);
  for (let i = 0; i < N; i++) expect(sim.keys.get(`key_d${i}`)!.tags.owner).toBe(value);
}

describe('bulk update jobs survive a crash', () => {
  it(
    'SIGKILL mid-job, restart on the same SQLite file: the job finishes, every item applied exactly once',
    async () => {
      sim.reset();
      const file = configFile('sqlite', [`  sqlite: ${join(dir, 'audit.db')}`]);
      const first = await start(file);
      // The 5th write is held 1.5 s at the vendor: the kill lands while it is in flight (PENDING).
      sim.inject(faults.delay(1500, { method: 'PATCH', skip: 4 }));
      const started = await gql(first.url, START, {
        u: Array.from({ length: N }, (_, i) => ({ provider: 'mesa', id: `key_d${i}`, patch: { setTags: [{ key: 'owner', value: 'sqlite' }] } })),
      });
      const id = started.data.startApiKeyUpdateJob.id;
      await killMidWrite(first, 5);
      expect(sim.writes().length).toBeLessThan(N);

      const second = await start(file);
      const job = await waitFinished(second.url, id);
      expect(job).toEqual({ state: 'SUCCEEDED', progress: { total: N, done: N, failed: 0 } });
      appliedOncePerKey('sqlite');
      expect(second.output()).toContain('found already applied after a restart');
      await second.stop();
    },
    CRASH_TEST_MS,
  );

  it(
    'two replicas on one PostgreSQL: the job runs on one; when it dies the other takes over, every item applied exactly once',
    async () => {
      sim.reset();
      const file = configFile('pg', [`  postgres: ${await testDatabaseUrl()}`, `  schema: ${schema}`]);
      const a = await start(file);
      const b = await start(file);
      sim.inject(faults.delay(1500, { method: 'PATCH', skip: 4 }));
      const started = await gql(a.url, START, {
        u: Array.from({ length: N }, (_, i) => ({ provider: 'mesa', id: `key_d${i}`, patch: { setTags: [{ key: 'owner', value: 'pg' }] } })),
      });
      const id = started.data.startApiKeyUpdateJob.id;
      // Whichever replica holds the lease is killed mid-write; the other resumes once the lease lapses.
      await until(() => a.output().includes('bulk update job running') || b.output().includes('bulk update job running'), { timeoutMs: 30_000 });
      const [runner, other] = a.output().includes('bulk update job running') ? [a, b] : [b, a];
      await killMidWrite(runner, 5);
      const job = await waitFinished(other.url, id);
      expect(job).toEqual({ state: 'SUCCEEDED', progress: { total: N, done: N, failed: 0 } });
      appliedOncePerKey('pg');
      expect(other.output()).toContain('bulk update job running');
      await other.stop();
    },
    CRASH_TEST_MS,
  );
});
