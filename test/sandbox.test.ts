import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerKinds } from '../providers/index.ts';
import type { RunningSandbox } from '../sandbox/start.ts';
import type { RunningKeygate } from '../src/app.ts';
import { sandboxExamples } from '../sandbox/start.ts';
import { recordSeen, startSandboxGateway } from './harness.ts';

let sandbox: RunningSandbox;
let keygate: RunningKeygate;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ sandbox, keygate, close } = await startSandboxGateway());
});
afterAll(async () => {
  await close?.();
});

describe('sandbox mode', () => {
  it('serves every vendor, and each printed example mutation works as pasted', async () => {
    expect([...sandbox.sandboxes.keys()]).toEqual(providerKinds);
    for (const [kind, s] of sandbox.sandboxes) {
      const res = await fetch(keygate.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: s.exampleMutation(kind) }),
      });
      const text = await res.text();
      recordSeen(text);
      const body = JSON.parse(text);
      expect(body.errors, `${kind}: ${text}`).toBeUndefined();
      expect(body.data.updateApiKey.id).toBe(s.demoKeyIds[0]);
      expect(s.simulator.writes().length).toBeGreaterThan(0);
    }
  });

  it('starts GraphiQL with one valid document whose every operation runs', async () => {
    const doc = sandboxExamples(sandbox);
    const names = [...doc.matchAll(/^(?:query|mutation) (\w+)/gm)].map((m) => m[1]);
    expect(names).toHaveLength(providerKinds.length + 1);
    for (const operationName of names) {
      const res = await fetch(keygate.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: doc, operationName }),
      });
      const text = await res.text();
      recordSeen(text);
      expect(JSON.parse(text).errors, `${operationName}: ${text}`).toBeUndefined();
    }
    const page = await (await fetch(keygate.url, { headers: { accept: 'text/html' } })).text();
    expect(page).toContain('keygate');
  });

  it('serves GraphiQL to a browser, with no asset from a CDN', async () => {
    const res = await fetch(keygate.url, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('GraphiQL');
    // Served whole by keygate: it works on a machine without internet.
    expect(page).not.toMatch(/(src|href)=["']?https?:/);
  });

  it('`npm start` boots with no config, prints the URL, demo ids and examples, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['src/main.ts', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner: ${out}`)), 15_000);
      child.stdout.on('data', () => {
        if (out.includes('Run with --config')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    expect(out).toMatch(/GraphiQL at http:\/\/127\.0\.0\.1:\d+\/graphql/);
    for (const kind of providerKinds) expect(out).toContain(`updateApiKey(provider: "${kind}"`);
    // Tracing is off without an exporter: no span is printed anywhere.
    expect(out).not.toMatch(/spanId|instrumentationScope|resourceSpans/);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(0);
  });
});
