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
import type { ProviderKind, Sandbox } from '../providers/types.ts';
import { resolveConfig, type Config } from './config.ts';

export interface RunningSandbox {
  config: Config;
  sandboxes: Map<ProviderKind, Sandbox>;
  close(): Promise<void>;
}

export async function startSandbox(): Promise<RunningSandbox> {
  const sandboxes = new Map<ProviderKind, Sandbox>();
  for (const [kind, module] of Object.entries(providers) as [ProviderKind, (typeof providers)[ProviderKind]][]) {
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
