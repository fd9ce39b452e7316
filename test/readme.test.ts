/**
 * The README and docs are the user's door: every example operation in them runs against the
 * sandbox as written, the README stays short, and every relative link leads somewhere.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningKeygate } from '../src/app.ts';
import { recordSeen, startSandboxGateway } from './harness.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const README_MAX_BYTES = 12 * 1024;

/** The pages users read: README, CONTRIBUTING, docs/*.md, bench/README.md (those that exist). */
const docs = [
  'README.md',
  'CONTRIBUTING.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
  'bench/README.md',
].filter((f) => existsSync(join(root, f)));
const read = (file: string) => readFileSync(join(root, file), 'utf8');

/** Each ```graphql block split into operations at blank lines; schema excerpts (type/input/enum) are not operations. */
function examplesIn(text: string): string[] {
  return [...text.matchAll(/```graphql\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .filter((block) => !/^\s*(type|input|enum) /m.test(block))
    .flatMap((block) =>
      block
        .split(/\n\s*\n/)
        .map((chunk) => chunk.replace(/^\s*#.*$/gm, '').trim())
        .filter(Boolean),
    );
}

const examples = docs.flatMap((file) => examplesIn(read(file)).map((query) => ({ file, query })));

/** Markdown without fenced code blocks (their `#` lines are not headings, their `[x](y)` not links). */
const withoutFences = (text: string) => text.replace(/^(```|~~~)[\s\S]*?^\1/gm, '');

/** GitHub's heading anchors: lower-cased, punctuation dropped, spaces to `-`, repeats numbered. */
function headingAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of withoutFences(text).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = heading
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Relative link targets (`[text](target)`) outside code; absolute URLs and `mailto:` are skipped. */
function relativeLinks(text: string): string[] {
  const prose = withoutFences(text).replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]).filter((t) => !/^[a-z][a-z\d+.-]*:/i.test(t));
}

let keygate: RunningKeygate;
let close: () => Promise<void>;

describe('README and docs pages', () => {
  it(`README.md is at most ${README_MAX_BYTES} bytes`, () => {
    expect(Buffer.byteLength(read('README.md'))).toBeLessThanOrEqual(README_MAX_BYTES);
  });

  it('computes GitHub heading anchors', () => {
    const anchors = headingAnchors(
      '# Sizing `maxConcurrency`\n## Limits and the HTTP edge\n```\n# not a heading\n```\n## Notes\n## Notes\n### How [`ApiKeyPatch`](x.md) maps',
    );
    expect([...anchors]).toEqual(['sizing-maxconcurrency', 'limits-and-the-http-edge', 'notes', 'notes-1', 'how-apikeypatch-maps']);
  });

  it.each(docs)('%s: every relative link points at an existing file and heading', (file) => {
    const problems: string[] = [];
    for (const link of relativeLinks(read(file))) {
      const [path, fragment] = link.split('#', 2) as [string, string | undefined];
      const target = path === '' ? join(root, file) : resolve(root, dirname(file), decodeURIComponent(path));
      if (!existsSync(target)) {
        problems.push(`${link}: no such file ${relative(root, target)}`);
        continue;
      }
      if (fragment !== undefined && !(statSync(target).isFile() && headingAnchors(readFileSync(target, 'utf8')).has(fragment)))
        problems.push(`${link}: no heading #${fragment} in ${relative(root, target)}`);
    }
    expect(problems).toEqual([]);
  });
});

describe('README and docs examples', () => {
  beforeAll(async () => {
    ({ keygate, close } = await startSandboxGateway());
  });
  afterAll(async () => {
    await close?.();
  });

  it('has examples to run', () => {
    expect(examples.filter((e) => e.file === 'README.md').length).toBeGreaterThanOrEqual(8);
    expect(examples.filter((e) => e.file.startsWith('docs/')).length).toBeGreaterThanOrEqual(5);
  });

  it.each(examples.map((e) => [`${e.file}: ${e.query.split('\n')[0].slice(0, 70)}`, e.query]))('runs against the sandbox: %s', async (_name, query) => {
    const res = await fetch(keygate.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    const text = await res.text();
    recordSeen(text);
    const body = JSON.parse(text);
    expect(body.errors, text).toBeUndefined();
    expect(body.data).toBeTruthy();
  });
});
