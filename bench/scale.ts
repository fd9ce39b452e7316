/**
 * The scale measurements of issue 19, run by bench/bench.ts (never timed in tests):
 *
 * - Bulk at the limit: a job of N Mesa updates against a Mesa simulator behind a proxy that
 *   enforces a token bucket (burst 100, 100 per second, 429 beyond it). Reported: the job's time
 *   against the bucket's minimum ((N − 100) / 100 s), items failed, share of vendor calls answered
 *   429. Then the same budget shared by two keygate replicas on one PostgreSQL (one job of N/2 on
 *   each), timed together. keygate's own bucket is set 2% under the vendor's (as
 *   docs/bulk-and-rate-limits.md advises), so network jitter never lands two calls in one refill.
 * - Polling: C clients polling `apiKeys(provider: "tyk", first: 50)` every second with
 *   `cache.ttlSeconds: 5`. Reported: vendor list walks (at most one per 5 s allowed), p50/p99 of
 *   every answer after a warm-up and p99 of the cached ones (their `fetchedAt` older than the
 *   request); then the same load against a bare graphql-yoga serving that list from memory (the
 *   floor), whose p50/p99 are reported beside keygate's.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool, request } from 'undici';
import { createMesaSimulator, demoKey } from '../providers/mesa/simulator.ts';
import { createTykSimulator, demoSession, TYK_PAGE_SIZE } from '../providers/tyk/simulator.ts';
import { startGatewayProcess, startListeningProcess } from './gateway-process.ts';

const MESA_TOKEN = 'mesa_scale_bench_token_0123456';
const TYK_SECRET = 'tyk_scale_bench_secret_0123456';
const CALLER = 'keygate_scale_bench_caller_0123456789';
const BUCKET = { burst: 100, perSecond: 100 };

export interface ScaleOptions {
  dir: string;
  quick: boolean;
  nodeFlags: string[];
  env: Record<string, string>;
  /** PostgreSQL for the two-replica run; skipped when undefined. */
  databaseUrl?: string;
}

/** A proxy in front of `upstream` that answers 429 once its token bucket is empty. */
async function bucketProxy(upstream: string): Promise<{ origin: string; counts: { forwarded: number; limited: number }; close(): Promise<void> }> {
  const counts = { forwarded: 0, limited: 0 };
  let tokens = BUCKET.burst;
  let last = performance.now();
  const pool = new Pool(upstream, { connections: 64 });
  const server: Server = createServer(async (req, res) => {
    const now = performance.now();
    tokens = Math.min(BUCKET.burst, tokens + ((now - last) / 1000) * BUCKET.perSecond);
    last = now;
    if (tokens < 1) {
      counts.limited += 1;
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' }).end('{"error":{"code":"RATE_LIMITED","message":"slow down"}}');
      req.resume();
      return;
    }
    tokens -= 1;
    counts.forwarded += 1;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const answer = await pool.request({
      method: req.method as 'GET',
      path: req.url!,
      headers: req.headers as Record<string, string>,
      body: chunks.length ? Buffer.concat(chunks) : undefined,
    });
    const body = await answer.body.text();
    res.writeHead(answer.statusCode, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await pool.close();
    },
  };
}

async function gql(origin: string, query: string, variables: Record<string, unknown> = {}): Promise<GqlAnswer> {
  const res = await request(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${CALLER}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.body.json()) as GqlAnswer;
}

// biome-ignore lint/suspicious/noExplicitAny: the bench reads whichever fields its own queries asked for
type GqlAnswer = { data?: any; errors?: { message: string }[] };

const STATE = `query($id: ID!) { apiKeyUpdateJob(id: $id) { state createdAt finishedAt progress { total done failed } } }`;

async function runJob(origin: string, ids: string[], value: string): Promise<string> {
  const started = await gql(origin, `mutation($u: [ApiKeyUpdateInput!]!) { startApiKeyUpdateJob(updates: $u) { id } }`, {
    u: ids.map((id) => ({ provider: 'mesa', id, patch: { setTags: [{ key: 'owner', value }] } })),
  });
  if (!started.data) throw new Error(`startApiKeyUpdateJob failed: ${JSON.stringify(started.errors)}`);
  return started.data.startApiKeyUpdateJob.id;
}

async function finished(
  origin: string,
  id: string,
): Promise<{ createdAt: string; finishedAt: string; progress: { total: number; done: number; failed: number } }> {
  for (;;) {
    const job = (await gql(origin, STATE, { id })).data.apiKeyUpdateJob;
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.state)) return job;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function configFile(o: ScaleOptions, name: string, providers: string[], audit: string): string {
  const file = join(o.dir, `scale-${name}.yaml`);
  writeFileSync(
    file,
    ['providers:', ...providers, 'auth:', '  tokens:', `    - { name: bench, token: "${CALLER}", scopes: [keys:write, keys:read] }`, audit].join('\n'),
  );
  return file;
}

export async function measureBulkAtLimit(o: ScaleOptions): Promise<Record<string, unknown>[]> {
  const n = o.quick ? 400 : 2000;
  const ids = Array.from({ length: n }, (_, i) => `key_s${i}`);
  const mesa = await createMesaSimulator({ org: 'acme', tokens: { [MESA_TOKEN]: ['admin'] }, keys: ids.map((id) => demoKey(id, id, {})) });
  const rows: Record<string, unknown>[] = [];
  const minimumS = (n - BUCKET.burst) / BUCKET.perSecond;
  const mesaLine = (proxy: string) =>
    `  mesa: { kind: mesa, baseUrl: "${proxy}/v1", org: acme, token: "${MESA_TOKEN}", maxConcurrency: 32, deadlineMs: 60000, rateLimit: { requests: ${BUCKET.perSecond * 0.98}, perSeconds: 1, burst: ${BUCKET.burst} } }`;
  const report = (setup: string, jobs: Awaited<ReturnType<typeof finished>>[], counts: { forwarded: number; limited: number }) => {
    const seconds = (Math.max(...jobs.map((j) => Date.parse(j.finishedAt))) - Math.min(...jobs.map((j) => Date.parse(j.createdAt)))) / 1000;
    const calls = counts.forwarded + counts.limited;
    rows.push({
      measurement: `bulk at the limit (${setup})`,
      items: n,
      seconds: Math.round(seconds * 100) / 100,
      minimumSeconds: minimumS,
      overMinimumPct: Math.round((seconds / minimumS - 1) * 1000) / 10,
      withinTenPct: seconds <= minimumS * 1.1,
      failed: jobs.reduce((k, j) => k + j.progress.failed, 0),
      vendorCalls: calls,
      answered429Pct: Math.round((counts.limited / calls) * 10000) / 100,
    });
  };
  try {
    {
      const proxy = await bucketProxy(mesa.origin);
      const { child, origin } = await startGatewayProcess(
        configFile(o, 'bulk', [mesaLine(proxy.origin)], `audit: { sqlite: "${join(o.dir, 'scale-audit.db')}" }`),
        o.nodeFlags,
        o.env,
      );
      try {
        // The bucket starts full at both ends; the job starts at once.
        report('one replica, SQLite', [await finished(origin, await runJob(origin, ids, 'one'))], proxy.counts);
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
        await proxy.close();
      }
    }
    if (o.databaseUrl) {
      const proxy = await bucketProxy(mesa.origin);
      const audit = `audit: { postgres: "${o.databaseUrl}", schema: bench_scale_${process.pid} }`;
      const file = configFile(o, 'bulk-pg', [mesaLine(proxy.origin)], audit);
      const replicas = [await startGatewayProcess(file, o.nodeFlags, o.env), await startGatewayProcess(file, o.nodeFlags, o.env)];
      try {
        const half = n / 2;
        const jobIds = await Promise.all([runJob(replicas[0].origin, ids.slice(0, half), 'two'), runJob(replicas[1].origin, ids.slice(half), 'two')]);
        const jobs = await Promise.all(jobIds.map((id, i) => finished(replicas[i].origin, id)));
        report('two replicas, one PostgreSQL', jobs, proxy.counts);
      } finally {
        for (const r of replicas) {
          r.child.kill('SIGTERM');
          await new Promise((x) => r.child.once('exit', x));
        }
        await proxy.close();
      }
    }
  } finally {
    await mesa.close();
  }
  return rows;
}

/** Latency quantile of `list` in ms, two decimals. */
function quantile(list: number[], q: number): number {
  const sorted = [...list].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 100) / 100;
}

const POLL_QUERY = JSON.stringify({ query: '{ apiKeys(provider: "tyk", first: 50) { edges { node { id name fetchedAt } } } }' });

/**
 * `clients` pollers, each asking `origin` once a second for `seconds` (spread over the first
 * second). Answers in the first `warmupSeconds` (connections opening, code warming up) are not
 * counted. An answer is cached when its first key's `fetchedAt` is older than the request.
 */
async function poll(origin: string, clients: number, seconds: number, warmupSeconds: number) {
  const latencies: number[] = [];
  const cached: number[] = [];
  let errors = 0;
  const pool = new Pool(origin, { connections: clients });
  const start = performance.now();
  const end = start + seconds * 1000;
  const counted = start + warmupSeconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      await new Promise((r) => setTimeout(r, (c * 1000) / clients));
      for (let next = performance.now(); next < end; next += 1000) {
        const t0 = performance.now();
        const sent = Date.now();
        const res = await pool.request({
          method: 'POST',
          path: '/graphql',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${CALLER}` },
          body: POLL_QUERY,
        });
        const text = await res.body.text();
        const ms = performance.now() - t0;
        const ok = res.statusCode === 200 && !text.includes('"errors"');
        if (!ok) errors += 1;
        if (t0 >= counted) {
          latencies.push(ms);
          if (ok && Date.parse(JSON.parse(text).data.apiKeys.edges[0].node.fetchedAt) < sent) cached.push(ms);
        }
        await new Promise((r) => setTimeout(r, Math.max(0, next + 1000 - performance.now())));
      }
    }),
  );
  await pool.close();
  return { answers: latencies.length, errors, latencies, cached };
}

/**
 * Polling with the read cache, then the same load against the bare-yoga floor serving the same
 * list from memory (bench/floor-server.ts `--list`), so keygate's tail is read against the stack's.
 */
export async function measurePolling(o: ScaleOptions): Promise<Record<string, unknown>> {
  const clients = o.quick ? 20 : 100;
  const seconds = o.quick ? 10 : 30;
  const warmupSeconds = o.quick ? 1 : 3;
  const ttl = 5;
  const keys = Object.fromEntries(
    Array.from({ length: 60 }, (_, i) => [`5e9d9544a1dcd60001d0ed20${String(i).padStart(32, '0')}`, demoSession(`k${i}`, ['a'])]),
  );
  const tyk = await createTykSimulator({ adminSecret: TYK_SECRET, keys });
  const file = configFile(
    o,
    'polling',
    [`  tyk: { kind: tyk, baseUrl: "${tyk.baseUrl}", adminSecret: "${TYK_SECRET}", cache: { ttlSeconds: ${ttl} } }`],
    'audit: false',
  );
  let gateway: Awaited<ReturnType<typeof poll>>;
  let floor: Awaited<ReturnType<typeof poll>>;
  {
    const { child, origin } = await startGatewayProcess(file, o.nodeFlags, o.env);
    try {
      gateway = await poll(origin, clients, seconds, warmupSeconds);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await tyk.close();
    }
  }
  {
    const args = ['--upstream', tyk.baseUrl, '--token', 'unused', '--client', 'undici', '--list', '50'];
    const { child, origin } = await startListeningProcess('bench/floor-server.ts', args, o.nodeFlags, o.env);
    try {
      floor = await poll(origin, clients, seconds, warmupSeconds);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
  const walks = tyk.requests.filter((r) => r.method === 'GET').length / Math.ceil(50 / TYK_PAGE_SIZE);
  return {
    measurement: `polling apiKeys(first: 50), cache.ttlSeconds ${ttl}`,
    clients,
    seconds,
    warmupSeconds,
    answers: gateway.answers,
    errors: gateway.errors + floor.errors,
    vendorListWalks: walks,
    maxWalksAllowed: Math.ceil(seconds / ttl) + 1,
    p50Ms: quantile(gateway.latencies, 0.5),
    p99Ms: quantile(gateway.latencies, 0.99),
    cachedAnswers: gateway.cached.length,
    cachedP99Ms: quantile(gateway.cached, 0.99),
    floorP50Ms: quantile(floor.latencies, 0.5),
    floorP99Ms: quantile(floor.latencies, 0.99),
  };
}
