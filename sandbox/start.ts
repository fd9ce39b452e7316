/**
 * Sandbox mode: every vendor's simulator on 127.0.0.1 (random ports), seeded with demo keys, and a
 * Config pointing at them. What `npm start` runs when no --config is given.
 *
 * No `auth` (so keygate listens on loopback only, every caller holding every scope), GraphiQL and
 * the console (/console) on, and the audit log in a throw-away SQLite file, so `auditLog` can be
 * tried; it goes on close.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { providers } from '../providers/index.ts';
import type { BuiltinKind, Sandbox } from '../providers/types.ts';
import { resolveConfig, type Config } from '../src/config/schema.ts';

export interface RunningSandbox {
  config: Config;
  sandboxes: Map<BuiltinKind, Sandbox>;
  close(): Promise<void>;
}

export async function startSandbox(): Promise<RunningSandbox> {
  const sandboxes = new Map<BuiltinKind, Sandbox>();
  for (const [kind, module] of Object.entries(providers) as [BuiltinKind, (typeof providers)[BuiltinKind]][]) {
    sandboxes.set(kind, await module.startSandbox());
  }
  const dir = mkdtempSync(join(tmpdir(), 'keygate-sandbox-'));
  const config = resolveConfig({
    providers: Object.fromEntries([...sandboxes].map(([kind, s]) => [kind, { kind, ...s.connection }])),
    server: { graphiql: true, console: true },
    audit: { sqlite: join(dir, 'audit.db') },
  });
  return {
    config,
    sandboxes,
    close: async () => {
      await Promise.all([...sandboxes.values()].map((s) => s.simulator.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** GraphiQL's starting text in sandbox mode: one example per provider, ready to run. */
export function sandboxExamples(sandbox: RunningSandbox): string {
  const lines = [
    '# keygate sandbox: every provider is a simulator on 127.0.0.1.',
    '# Put the cursor in one operation and press Run.',
    '',
    'query Providers { providers { name kind operations patchFields } }',
    '',
  ];
  for (const [kind, s] of sandbox.sandboxes)
    lines.push(`# ${kind}`, s.exampleMutation(kind).replace(/^mutation /, `mutation ${kind[0].toUpperCase()}${kind.slice(1)}Example `), '');
  return lines.join('\n');
}

export function printSandbox(url: string, sandbox: RunningSandbox): void {
  const lines = [
    '',
    `keygate (sandbox mode) — GraphiQL at ${url}`,
    `Keys console at ${url.replace(/\/graphql$/, '/console')}`,
    'Every provider below is an in-process simulator on 127.0.0.1; nothing leaves this machine.',
    '',
  ];
  for (const [kind, s] of sandbox.sandboxes) {
    lines.push(`  ${kind.padEnd(7)} demo keys: ${s.demoKeyIds.join(', ')}`);
    lines.push(`          ${s.exampleMutation(kind)}`);
    lines.push(`          faults: POST ${s.simulator.origin}/__sim/faults`);
  }
  lines.push(
    '',
    'Faults (docs/resilience.md): curl -X POST <faults URL> -d \'{"response":{"status":503},"times":2}\'',
    'Run with --config FILE to talk to real vendors (see docs/configuration.md).',
    '',
  );
  console.log(lines.join('\n'));
}
