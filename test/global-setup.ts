/**
 * The suite-wide secret scan: every response and log line that any test saw (test/harness.ts
 * records them) is searched for every credential and vendor secret registered during the run.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let dir: string;

export function setup(): void {
  dir = mkdtempSync(join(tmpdir(), 'keygate-scan-'));
  process.env.KEYGATE_SCAN_DIR = dir;
}

export function teardown(): void {
  const files = readdirSync(dir);
  const secrets = new Set<string>();
  for (const f of files.filter((f) => f.startsWith('secrets-'))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) if (line) secrets.add(JSON.parse(line));
  }
  const seen = files.filter((f) => f.startsWith('seen-')).map((f) => readFileSync(join(dir, f), 'utf8'));
  rmSync(dir, { recursive: true, force: true });
  if (seen.length === 0) {
    // A partial run (e.g. simulator tests only) started no gateway: there is nothing to scan.
    console.log('secret scan: no gateway traffic in this run; skipped');
    return;
  }
  if (secrets.size === 0) throw new Error('secret scan: gateway traffic was recorded but no secrets were registered');
  const leaks = scanForSecrets(seen, [...secrets]);
  if (leaks.length > 0)
    throw new Error(`secret scan: ${leaks.length} secret(s) leaked into responses or logs: ${leaks.map((s) => `${s.slice(0, 4)}…`).join(', ')}`);
  console.log(`secret scan: ${secrets.size} secrets checked against ${seen.reduce((n, t) => n + t.split('\n').length, 0)} response and log lines: none leaked`);
}

export function scanForSecrets(texts: string[], secrets: string[]): string[] {
  return secrets.filter((s) => s.length >= 6 && texts.some((t) => t.includes(s)));
}
