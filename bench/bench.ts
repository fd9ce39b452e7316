/**
 * `npm run bench [-- --quick] [--out FILE] [--scenario NAME] [--audit on|off] [--no-floors] [--rounds N] [--no-scale|--scale-only]`:
 * keygate's benchmark, on loopback only (`--scenario`/`--audit` run a part of it, for working on
 * one path; `--rounds N` runs every server N times, alternating, and reports the medians).
 *
 * Starts the vendor simulators (Mesa, Tyk) in this process, keygate in real mode as a child
 * process (auth on, SQLite audit on; then a second run with audit off), and drives each scenario
 * with a closed-loop HTTP load generator over an undici pool: warm-up, 32 connections for 10 s,
 * then 1 connection for 5 s. The direct REST PATCH to the simulator is measured the same way in
 * the same run. Reported per scenario: requests/s, p50/p99 at both loads, latency added over
 * direct at 1 connection, gateway CPU ms per mutation (the child's own utime+stime from /proc),
 * peak RSS (VmHWM), errors, and whether every mutation caused exactly the expected upstream calls.
 *
 * The Mesa PATCH is also run against two reference floors (bench/floor-server.ts), started
 * with the same Node flags: a bare graphql-yoga resolver calling the vendor with `undici.request`,
 * and the same through keygate's own upstream client (src/upstream/client.ts: ky over its undici
 * pool). keygate's numbers are read against them.
 *
 * Then the scale measurements (bench/scale.ts; skipped with `--scenario`, `--audit` or `--no-scale`):
 * a bulk update job at a vendor's rate limit (one replica, then two on one PostgreSQL when
 * KEYGATE_BENCH_DATABASE_URL or the test database at 127.0.0.1:5432 answers), and polling with the read cache.
 *
 * Speed claims come only from this benchmark's output, as ratios within one run.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { createMesaSimulator, demoKey } from '../providers/mesa/simulator.ts';
import type { RunningSimulator } from '../providers/types.ts';
import { createTykSimulator, demoSession } from '../providers/tyk/simulator.ts';
import { startGatewayProcess, startListeningProcess } from './gateway-process.ts';
import { measureBulkAtLimit, measurePolling } from './scale.ts';
import pg from 'pg';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    out: { type: 'string' },
    // For working on one path: only the scenarios whose name contains this, and only audit on or off.
    scenario: { type: 'string' },
    audit: { type: 'string' },
    // Run every server this many times, alternating, and report the medians (default 1).
    rounds: { type: 'string' },
    // Skip the reference floors (bench/floor-server.ts).
    'no-floors': { type: 'boolean' },
    // Skip the scale measurements (bench/scale.ts), or run only them.
    'no-scale': { type: 'boolean' },
    'scale-only': { type: 'boolean' },
  },
});
const QUICK = Boolean(flags.quick);
const ROUNDS = Number(flags.rounds ?? 1);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS > 20) throw new Error(`--rounds ${flags.rounds}: expected a whole number from 1 to 20`);
const PHASES = QUICK ? { warmMs: 300, loadMs: 1000, singleMs: 700, connections: 32 } : { warmMs: 2000, loadMs: 10_000, singleMs: 5000, connections: 32 };

/**
 * How `npm start` runs keygate: package.json `config` holds its Node flags and compile cache, which
 * the start script passes on; `KEYGATE_BENCH_NODE_FLAGS` overrides the flags.
 */
const PACKAGE_CONFIG = JSON.parse(readFileSync('package.json', 'utf8')).config as { nodeFlags: string; compileCache: string };
const GATEWAY_ENV = { NODE_COMPILE_CACHE: PACKAGE_CONFIG.compileCache };
const GATEWAY_NODE_FLAGS = (process.env.KEYGATE_BENCH_NODE_FLAGS ?? PACKAGE_CONFIG.nodeFlags).split(' ').filter(Boolean);

const MESA_TOKEN = 'mesa_bench_token_0123456789';
const TYK_SECRET = 'tyk_bench_admin_secret_0123';
const CALLER_TOKEN = 'keygate_bench_caller_token_0123456789';
const TYK_ID = '5e9d9544a1dcd60001d0ed20e7f75f9e03534825b7aef9df749582e5';

interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

interface Request {
  origin: string;
  path: string;
  method: 'POST' | 'PATCH';
  headers: Record<string, string>;
  body: string;
  /** Checks one response body; returns an error description or undefined. */
  check(status: number, body: string): string | undefined;
}

/** A closed loop: `connections` workers each send the next request as soon as the last answered. */
async function load(req: Request, connections: number, durationMs: number): Promise<LoadResult> {
  const pool = new Pool(req.origin, { connections, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const end = performance.now() + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const res = await pool.request({ path: req.path, method: req.method, headers: req.headers, body: req.body });
        const text = await res.body.text();
        latencies.push(performance.now() - t0);
        const problem = req.check(res.statusCode, text);
        if (problem) {
          errors += 1;
          firstError ??= problem;
        }
      } catch (err) {
        errors += 1;
        firstError ??= (err as Error).message;
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  if (firstError) console.error(`  first error: ${firstError}`);
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? Number.NaN;
  return { requests: latencies.length, rps: latencies.length / elapsed, p50: pct(50), p99: pct(99), errors };
}

/** utime + stime of a process, in ms (Linux /proc). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** One server under load: keygate (audit on or off) or a reference floor. */
interface Target {
  server: string;
  audit: boolean | null;
  start(): Promise<{ child: ChildProcess; origin: string }>;
  scenarios: Scenario[];
}

interface Scenario {
  name: string;
  request(gateway: string): Request;
  /** Upstream calls each mutation must cause, by simulator. */
  expected: { sim: RunningSimulator; method: string; perMutation: number }[];
}

const gql = (origin: string, query: string, check: Request['check']): Request => ({
  origin,
  path: '/graphql',
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${CALLER_TOKEN}` },
  body: JSON.stringify({ query }),
  check,
});
const noErrors: Request['check'] = (status, body) => (status === 200 && !body.includes('"errors"') ? undefined : `HTTP ${status} ${body.slice(0, 300)}`);

/** The scale measurements (bench/scale.ts) in `dir`. */
async function measureScale(dir: string): Promise<{ bulk: Record<string, unknown>[]; polling: Record<string, unknown> }> {
  const options = { dir, quick: QUICK, nodeFlags: GATEWAY_NODE_FLAGS, env: GATEWAY_ENV, databaseUrl: await benchDatabase() };
  if (!options.databaseUrl) console.log('scale: no PostgreSQL answered (set KEYGATE_BENCH_DATABASE_URL): the two-replica run is skipped');
  return { bulk: await measureBulkAtLimit(options), polling: await measurePolling(options) };
}

/** `--scale-only`: the scale measurements alone, printed and written like a full run's. */
async function scaleOnly(): Promise<void> {
  const scale = await measureScale(mkdtempSync(join(tmpdir(), 'keygate-bench-')));
  console.table(scale.bulk);
  console.table([scale.polling]);
  const out = flags.out ?? join('bench-results', `scale-${QUICK ? 'quick' : 'full'}-latest.json`);
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), quick: QUICK, node: process.version, cpus: cpus().length, scale }, null, 2)}\n`);
  console.log(`wrote ${out}`);
  if (scale.bulk.some((r) => r.failed !== 0) || scale.polling.errors !== 0) process.exit(1);
}

async function main(): Promise<void> {
  if (flags['scale-only']) return scaleOnly();
  const mesa = await createMesaSimulator({ org: 'acme', tokens: { [MESA_TOKEN]: ['admin'] }, keys: [demoKey('key_bench', 'bench', { env: 'prod' })] });
  const tyk = await createTykSimulator({ adminSecret: TYK_SECRET, keys: { [TYK_ID]: demoSession('bench', ['a']) } });
  const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-'));

  const configFor = (audit: boolean) => {
    const file = join(dir, `keygate-${audit ? 'audit' : 'noaudit'}.yaml`);
    writeFileSync(
      file,
      [
        'providers:',
        `  mesa: { kind: mesa, baseUrl: "${mesa.baseUrl}", org: acme, token: "${MESA_TOKEN}", maxConcurrency: 64 }`,
        `  tyk: { kind: tyk, baseUrl: "${tyk.baseUrl}", adminSecret: "${TYK_SECRET}", maxConcurrency: 64 }`,
        ...authAndAudit(audit, dir),
      ].join('\n'),
    );
    return file;
  };

  const mesaPatch = 'mutation { updateApiKey(provider: "mesa", id: "key_bench", patch: { setTags: [{ key: "owner", value: "bench" }] }) { id } }';
  const scenarios: Scenario[] = [
    {
      name: 'mesa PATCH',
      request: (o) => gql(o, mesaPatch, noErrors),
      expected: [{ sim: mesa, method: 'PATCH', perMutation: 1 }],
    },
    {
      name: 'tyk read-modify-write',
      request: (o) => gql(o, `mutation { updateApiKey(provider: "tyk", id: "${TYK_ID}", patch: { enabled: true }) { id } }`, noErrors),
      expected: [
        { sim: tyk, method: 'GET', perMutation: 1 },
        { sim: tyk, method: 'PUT', perMutation: 1 },
      ],
    },
    {
      name: '404 -> NOT_FOUND',
      request: (o) =>
        gql(o, 'mutation { updateApiKey(provider: "mesa", id: "key_missing", patch: { removeTags: ["x"] }) { id } }', (status, body) =>
          status === 200 && body.includes('"code":"NOT_FOUND"') ? undefined : `HTTP ${status} ${body.slice(0, 300)}`,
        ),
      expected: [{ sim: mesa, method: 'PATCH', perMutation: 1 }],
    },
    {
      name: 'updateApiKeys x20',
      request: (o) =>
        gql(
          o,
          `mutation { updateApiKeys(updates: [${Array.from({ length: 20 }, () => '{ provider: "mesa", id: "key_bench", patch: { setTags: [{ key: "owner", value: "bench" }] } }').join(', ')}]) { id error { code } } }`,
          (status, body) => (status === 200 && !body.includes('"code"') && !body.includes('"errors"') ? undefined : `HTTP ${status} ${body.slice(0, 300)}`),
        ),
      expected: [{ sim: mesa, method: 'PATCH', perMutation: 20 }],
    },
  ];

  const direct: Request = {
    origin: mesa.origin,
    path: '/v1/acme/api-keys/key_bench',
    method: 'PATCH',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${MESA_TOKEN}` },
    body: JSON.stringify({ tags: { owner: 'bench' } }),
    check: (status) => (status === 200 ? undefined : `HTTP ${status}`),
  };
  console.log(
    `keygate benchmark (${QUICK ? 'quick' : 'full'}): node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), gateway: ${[...Object.entries(GATEWAY_ENV).map(([k, v]) => `${k}=${v}`), 'node', ...GATEWAY_NODE_FLAGS].join(' ')}`,
  );
  await load(direct, PHASES.connections, PHASES.warmMs);
  const directLoad = await load(direct, PHASES.connections, PHASES.loadMs);
  const directSingle = await load(direct, 1, PHASES.singleMs);

  const rows: Row[] = [];
  const only = flags.scenario?.toLowerCase();
  const selected = only ? scenarios.filter((s) => s.name.toLowerCase().includes(only)) : scenarios;
  if (selected.length === 0) throw new Error(`--scenario ${flags.scenario}: no such scenario (${scenarios.map((s) => s.name).join(', ')})`);
  if (flags.audit !== undefined && flags.audit !== 'on' && flags.audit !== 'off') throw new Error(`--audit ${flags.audit}: expected on or off`);
  // The reference floors (bench/floor-server.ts): the fixed stack at its barest, Mesa PATCH only.
  const floorPatch: Scenario = {
    name: 'mesa PATCH',
    request: (o) => ({
      ...gql(o, 'mutation { updateApiKey(id: "key_bench", owner: "bench") { id } }', noErrors),
      headers: { 'content-type': 'application/json' },
    }),
    expected: [{ sim: mesa, method: 'PATCH', perMutation: 1 }],
  };
  const floor = (client: 'undici' | 'ky'): Target => ({
    server: `floor: yoga + ${client === 'undici' ? 'undici.request' : 'keygate client'}`,
    audit: null,
    start: () =>
      startListeningProcess('bench/floor-server.ts', ['--upstream', mesa.origin, '--token', MESA_TOKEN, '--client', client], GATEWAY_NODE_FLAGS, GATEWAY_ENV),
    scenarios: selected.some((s) => s.name === floorPatch.name) && flags.audit === undefined && !flags['no-floors'] ? [floorPatch] : [],
  });
  const targets: Target[] = [
    ...[true, false]
      .filter((a) => flags.audit === undefined || a === (flags.audit === 'on'))
      .map(
        (audit): Target => ({
          server: 'keygate',
          audit,
          start: () => startGatewayProcess(configFor(audit), GATEWAY_NODE_FLAGS, GATEWAY_ENV),
          scenarios: selected,
        }),
      ),
    floor('undici'),
    floor('ky'),
  ];
  // With several rounds, every server runs once per round, so they alternate through the VM's noise.
  for (let pass = 1; pass <= ROUNDS; pass++) {
    for (const target of targets.filter((t) => t.scenarios.length > 0)) {
      const { child, origin } = await target.start();
      const pid = child.pid!;
      try {
        for (const s of target.scenarios) {
          const req = s.request(origin);
          const sample = await fetch(`${origin}${req.path}`, { method: req.method, headers: req.headers, body: req.body });
          const problem = req.check(sample.status, await sample.text());
          if (problem) throw new Error(`${target.server}, ${s.name}: the sample request failed: ${problem}`);
          await load(req, PHASES.connections, PHASES.warmMs);
          for (const e of s.expected) e.sim.reset();
          const cpu0 = cpuMs(pid);
          const heavy = await load(req, PHASES.connections, PHASES.loadMs);
          const cpu1 = cpuMs(pid);
          const rss = peakRssMb(pid);
          const calls = s.expected.map((e) => ({
            method: e.method,
            got: e.sim.requests.filter((r) => r.method === e.method).length,
            want: heavy.requests * e.perMutation,
          }));
          for (const e of s.expected) e.sim.reset();
          const single = await load(req, 1, PHASES.singleMs);
          const singleCalls = s.expected.map((e) => ({
            got: e.sim.requests.filter((r) => r.method === e.method).length,
            want: single.requests * e.perMutation,
          }));
          const upstreamExact = [...calls, ...singleCalls].every((c) => c.got === c.want);
          rows.push({
            round: pass,
            server: target.server,
            audit: target.audit,
            scenario: s.name,
            rps32: round(heavy.rps, 0),
            p50_32: round(heavy.p50),
            p99_32: round(heavy.p99),
            rps1: round(single.rps, 0),
            p50_1: round(single.p50),
            p99_1: round(single.p99),
            addedP50_1: round(single.p50 - directSingle.p50),
            addedP99_1: round(single.p99 - directSingle.p99),
            cpuMsPerMutation: round((cpu1 - cpu0) / heavy.requests, 3),
            peakRssMb: round(rss, 0),
            errors: heavy.errors + single.errors,
            upstreamExact,
          });
        }
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    }
  }
  await mesa.close();
  await tyk.close();

  const runScale = !flags['no-scale'] && flags.scenario === undefined && flags.audit === undefined;
  let scale: { bulk: Record<string, unknown>[]; polling: Record<string, unknown> } | undefined;
  if (runScale) scale = await measureScale(dir);

  const runs = medians(rows);
  const result = {
    date: new Date().toISOString(),
    quick: QUICK,
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    phases: PHASES,
    direct: {
      rps32: round(directLoad.rps, 0),
      p50_32: round(directLoad.p50),
      p99_32: round(directLoad.p99),
      rps1: round(directSingle.rps, 0),
      p50_1: round(directSingle.p50),
      p99_1: round(directSingle.p99),
      errors: directLoad.errors + directSingle.errors,
    },
    rounds: ROUNDS,
    // One row per server, audit and scenario: the median of its rounds (errors summed).
    runs,
    ...(ROUNDS > 1 && { everyRound: rows }),
    ...(scale && { scale }),
  };
  console.log(`\ndirect REST PATCH to the Mesa simulator: ${JSON.stringify(result.direct)}\n`);
  console.table(runs);
  if (scale) {
    console.table(scale.bulk);
    console.table([scale.polling]);
  }
  const out = flags.out ?? join('bench-results', `${QUICK ? 'quick' : 'full'}-latest.json`);
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${out}`);
  const bad = [
    ...runs.filter((r) => r.errors !== 0 || r.upstreamExact !== true),
    ...(scale?.bulk.filter((r) => r.failed !== 0) ?? []),
    ...(scale && scale.polling.errors !== 0 ? [scale.polling] : []),
  ];
  if (bad.length) {
    console.error(`benchmark: ${bad.length} scenario run(s) had errors or unexpected upstream call counts`);
    process.exit(1);
  }
}

type Row = { round: number; server: string; audit: boolean | null; scenario: string; errors: number; upstreamExact: boolean } & Record<string, unknown>;

/** One row per server, audit and scenario: each measure's median over the rounds, errors summed. */
function medians(rows: Row[]): Record<string, unknown>[] {
  const groups = Map.groupBy(rows, (r) => `${r.server}|${r.audit}|${r.scenario}`);
  return [...groups.values()].map((group) => {
    const { round: _, ...first } = group[0];
    const out: Record<string, unknown> = { ...first };
    for (const [k, v] of Object.entries(first)) {
      if (typeof v !== 'number' || k === 'errors') continue;
      const sorted = group.map((r) => r[k] as number).sort((a, b) => a - b);
      const mid = sorted.length >> 1;
      out[k] = sorted.length % 2 ? sorted[mid] : round((sorted[mid - 1] + sorted[mid]) / 2, 3);
    }
    out.errors = group.reduce((n, r) => n + r.errors, 0);
    out.upstreamExact = group.every((r) => r.upstreamExact);
    return out;
  });
}

/** A PostgreSQL for the two-replica scale run: KEYGATE_BENCH_DATABASE_URL, else the test database if it answers. */
async function benchDatabase(): Promise<string | undefined> {
  const url = process.env.KEYGATE_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return url;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The caller auth and audit sections of the benchmark config. */
function authAndAudit(audit: boolean, dir: string): string[] {
  return [
    'auth:',
    '  tokens:',
    `    - { name: bench, token: "${CALLER_TOKEN}", scopes: [keys:write] }`,
    audit ? `audit: { sqlite: "${join(dir, 'audit.db')}" }` : 'audit: false',
  ];
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

await main();
