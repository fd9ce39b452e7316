/**
 * `npm run profile [-- --audit] [--seconds N]`: where keygate's CPU goes on the hot path.
 *
 * Runs keygate in a child process under `--cpu-prof` against the Mesa simulator, drives Mesa
 * single PATCHes at 32 connections, and prints the share of CPU samples (after a warm-up cut) by
 * package or keygate file (or, with `--functions`, by function): inclusive (anywhere on the stack)
 * and self (the frame on top).
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { createMesaSimulator, demoKey } from '../providers/mesa/simulator.ts';
import { startGatewayProcess } from './gateway-process.ts';

const { values: flags } = parseArgs({ options: { audit: { type: 'boolean' }, seconds: { type: 'string' }, functions: { type: 'boolean' } } });
const seconds = Number(flags.seconds ?? 8);
const WARMUP_MS = 2500;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

const dir = mkdtempSync(join(tmpdir(), 'keygate-profile-'));
const token = 'mesa_profile_token_123456';
const mesa = await createMesaSimulator({ org: 'acme', tokens: { [token]: ['admin'] }, keys: [demoKey('key_p', 'p', {})] });
const config = join(dir, 'keygate.yaml');
writeFileSync(
  config,
  [
    'providers:',
    `  mesa: { kind: mesa, baseUrl: "${mesa.baseUrl}", org: acme, token: "${token}", maxConcurrency: 64 }`,
    flags.audit ? `audit: { sqlite: "${join(dir, 'audit.db')}" }` : 'audit: false',
  ].join('\n'),
);
const { child, origin } = await startGatewayProcess(config, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
const pool = new Pool(origin, { connections: 32 });
const body = JSON.stringify({ query: 'mutation { updateApiKey(provider: "mesa", id: "key_p", patch: { setTags: [{ key: "o", value: "p" }] }) { id } }' });
const end = Date.now() + seconds * 1000;
let requests = 0;
await Promise.all(
  Array.from({ length: 32 }, async () => {
    while (Date.now() < end) {
      const res = await pool.request({ path: '/graphql', method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await res.body.text();
      requests += 1;
    }
  }),
);
child.kill('SIGINT');
await new Promise((r) => child.once('exit', r));
await pool.close();
await mesa.close();

const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!;
const prof = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number };
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
// --functions: by function (name, package or file, line) instead of by package.
const label = (n: ProfileNode): string =>
  flags.functions ? `${n.callFrame.functionName || '(anonymous)'} ${where(n)}:${n.callFrame.lineNumber + 1}` : where(n);
const where = (n: ProfileNode): string => {
  const url = n.callFrame.url;
  if (url.includes('node_modules/')) {
    const parts = url.split('node_modules/').at(-1)!.split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  const at = url.indexOf('/src/') >= 0 ? url.indexOf('/src/') : url.indexOf('/providers/');
  if (at >= 0) return `keygate ${url.slice(at + 1)}`;
  return url.startsWith('node:') ? url : n.callFrame.functionName || '(native)';
};
const inclusive = new Map<string, number>();
const self = new Map<string, number>();
let total = 0;
let t = prof.startTime;
prof.samples.forEach((id, i) => {
  t += prof.timeDeltas[i];
  if (t < prof.startTime + WARMUP_MS * 1000) return;
  total += 1;
  const top = label(byId.get(id)!);
  self.set(top, (self.get(top) ?? 0) + 1);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (!seen.has(l)) {
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + 1);
    }
  }
});
const top = (m: Map<string, number>, n: number) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `  ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n');
console.log(`keygate CPU profile: ${requests} Mesa PATCH mutations in ${seconds} s (audit ${flags.audit ? 'on' : 'off'}), ${total} samples after warm-up`);
console.log(`\ninclusive (on the stack):\n${top(inclusive, 30)}\n\nself (on top of the stack):\n${top(self, 20)}`);
