/**
 * Issue 5: with the PostgreSQL audit store, Tyk's per-key serialisation holds across gateway
 * replicas — two real gateway processes, one Tyk simulator, the real PostgreSQL. The control run
 * (two processes with SQLite, so only per-process locks) shows the lost update it prevents.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faults } from '../sandbox/simulator-kit.ts';
import { createTykSimulator, demoSession, type TykSimulator } from '../providers/tyk/simulator.ts';
import { recordSeen, registerSecret, startGatewayChild, type GatewayProcess } from './harness.ts';
import { dropSchema, testDatabaseUrl, uniqueSchema } from './pg.ts';

const TYK_SECRET = 'tyk_replicas_admin_secret_77aa';
const CALLER = 'kg_replicas_caller_token_88bb99cc';
registerSecret(TYK_SECRET, CALLER);
const KEY = '5e9d9544a1dcd60001d0ed20ffffeeeeddddccccbbbbaaaa99998888';
const UPDATES = 6;

let sim: TykSimulator;
let dir: string;
const children: ChildProcess[] = [];
const schema = uniqueSchema('replicas');

beforeAll(async () => {
  sim = await createTykSimulator({ adminSecret: TYK_SECRET, keys: { [KEY]: demoSession('shared', ['base']) } });
  dir = mkdtempSync(join(tmpdir(), 'keygate-replicas-'));
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await sim?.close();
  await dropSchema(schema);
  rmSync(dir, { recursive: true, force: true });
});

/** A gateway process on port 0; resolves with its URL once it listens. */
async function startReplica(name: string, audit: string): Promise<GatewayProcess> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      'providers:',
      '  tyk:',
      '    kind: tyk',
      `    baseUrl: ${sim.baseUrl}`,
      `    adminSecret: ${TYK_SECRET}`,
      'auth:',
      '  tokens:',
      '    - name: ops',
      `      token: ${CALLER}`,
      '      scopes: [keys:write]',
      audit,
    ].join('\n'),
  );
  const replica = await startGatewayChild(file);
  children.push(replica.child);
  return replica;
}

/** UPDATES concurrent updates of one Tyk key, alternating between the replicas, each adding its own tag. */
async function raceThrough(urls: string[]): Promise<{ tags: string[]; methods: string[] }> {
  // A first request warms each process up, so that the race below starts in both at once.
  for (const url of urls) await post(url, '{ providers { name } }');
  sim.sessions.set(KEY, demoSession('shared', ['base']));
  sim.reset();
  // Slow writes hold the read-modify-write window open: a read made while another update's write is
  // still pending sees the old session, so unserialised updates overlap for sure. (Slow reads did
  // not: the simulator reads the session after the delay, so whether a read saw the other
  // replica's write depended on how fast keygate turned a read into a write.)
  sim.inject(faults.delay(150, { method: 'PUT', times: UPDATES }));
  const answers = await Promise.all(
    Array.from({ length: UPDATES }, (_, i) =>
      post(urls[i % urls.length], `mutation { updateApiKey(provider: "tyk", id: "${KEY}", patch: { setTags: [{ key: "r${i}" }] }) { id } }`),
    ),
  );
  for (const a of answers) expect(a.errors, JSON.stringify(a.errors)).toBeUndefined();
  return { tags: (sim.sessions.get(KEY)!.tags as string[]) ?? [], methods: sim.requests.map((r) => r.method) };
}

async function post(url: string, query: string): Promise<{ errors?: unknown[] }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${CALLER}` },
    body: JSON.stringify({ query }),
  });
  const text = await res.text();
  recordSeen(text);
  return JSON.parse(text);
}

const ALL_TAGS = ['base', ...Array.from({ length: UPDATES }, (_, i) => `r${i}`)];

describe('per-key serialisation across replicas', () => {
  it('two gateway processes sharing PostgreSQL never interleave two updates of one Tyk key: none is lost', async () => {
    const url = await testDatabaseUrl();
    const audit = `audit:\n  postgres: ${url}\n  schema: ${schema}\n`;
    const replicas = await Promise.all([startReplica('pg-a', audit), startReplica('pg-b', audit)]);
    try {
      const { tags, methods } = await raceThrough(replicas.map((r) => r.url));
      expect([...tags].sort()).toEqual([...ALL_TAGS].sort());
      // Each read-modify-write ran alone: GET, PUT, GET, PUT, …
      expect(methods).toEqual(Array.from({ length: UPDATES }, () => ['GET', 'PUT']).flat());
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
    }
  });

  it('control: two processes with only per-process locks (SQLite) interleave and lose updates', async () => {
    const replicas = await Promise.all(['sqlite-a', 'sqlite-b'].map((n) => startReplica(n, `audit:\n  sqlite: ${join(dir, `${n}.db`)}\n`)));
    try {
      const { tags, methods } = await raceThrough(replicas.map((r) => r.url));
      expect(tags.length, JSON.stringify({ tags, methods })).toBeLessThan(ALL_TAGS.length);
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
    }
  });
});
