/**
 * The README is the user's door: every example operation in it runs against the sandbox as written.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../src/sandbox.ts';
import type { RunningKeygate } from '../src/server.ts';
import { recordSeen, startSandboxGateway } from './harness.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const examples = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)]
  .map((m) => m[1])
  .filter((block) => !/^\s*(type|input|enum) /m.test(block))
  .flatMap((block) =>
    block
      .split(/\n\s*\n/)
      .map((chunk) => chunk.replace(/^\s*#.*$/gm, '').trim())
      .filter(Boolean),
  );

let sandbox: RunningSandbox;
let keygate: RunningKeygate;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ sandbox, keygate, close } = await startSandboxGateway());
});
afterAll(async () => {
  await close?.();
});

describe('README examples', () => {
  it('has examples to run', () => {
    expect(examples.length).toBeGreaterThanOrEqual(10);
  });

  it.each(examples.map((e) => [e.split('\n')[0].slice(0, 70), e]))('runs against the sandbox: %s', async (_name, query) => {
    const res = await fetch(keygate.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    const text = await res.text();
    recordSeen(text);
    const body = JSON.parse(text);
    expect(body.errors, text).toBeUndefined();
    expect(body.data).toBeTruthy();
  });
});
