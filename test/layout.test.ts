/**
 * The layout's import rules (CONTRIBUTING.md): providers/ imports nothing from src/, and the service
 * (src/) never loads simulator code — sandbox/ or providers/<kind>/simulator.ts — at start-up: only
 * src/main.ts may reach it, through a dynamic import() in sandbox mode.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

interface Import {
  from: string;
  /** The resolved target, relative to the repository root. */
  target: string;
  /** `import type` / `export type`, or a type position `import('…').T`: erased, never loaded. */
  typeOnly: boolean;
  dynamic: boolean;
}

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

const STATIC = /^[ \t]*(import|export)[ \t]+(type[ \t]+)?[^;'"]*?from[ \t]*['"]([^'"]+)['"]/gm;
const BARE = /^[ \t]*import[ \t]*['"]([^'"]+)['"]/gm;
const DYNAMIC = /(?<![\w.])import\(\s*['"]([^'"]+)['"]\s*\)(?:\s*\.\s*([A-Za-z_$][\w$]*))?/g;

/** Every relative import of a file (static, side-effect and dynamic). */
function importsOf(file: string): Import[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const target = (spec: string) => relative(ROOT, resolve(ROOT, dirname(file), spec));
  const found: Import[] = [];
  for (const m of text.matchAll(STATIC))
    if (m[3].startsWith('.')) found.push({ from: file, target: target(m[3]), typeOnly: m[2] !== undefined, dynamic: false });
  for (const m of text.matchAll(BARE)) if (m[1].startsWith('.')) found.push({ from: file, target: target(m[1]), typeOnly: false, dynamic: false });
  // `import('./x.ts').T` names a type; `await import('./x.ts')` loads the module when reached.
  for (const m of text.matchAll(DYNAMIC))
    if (m[1].startsWith('.')) found.push({ from: file, target: target(m[1]), typeOnly: m[2] !== undefined && m[2] !== 'then', dynamic: true });
  return found;
}

const isSimulatorCode = (path: string) => path.startsWith('sandbox/') || /^providers\/[^/]+\/simulator\.ts$/.test(path);

/** Files loaded when `entry` is loaded: static value imports, followed transitively. */
function loadedBy(entry: string): Map<string, string[]> {
  const chains = new Map<string, string[]>([[entry, [entry]]]);
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const i of importsOf(file)) {
      if (i.typeOnly || i.dynamic || chains.has(i.target) || !i.target.endsWith('.ts')) continue;
      chains.set(i.target, [...chains.get(file)!, i.target]);
      queue.push(i.target);
    }
  }
  return chains;
}

describe('layout', () => {
  it('finds the imports it checks (the parser sees static, type-only and dynamic imports)', () => {
    const main = importsOf('src/main.ts');
    expect(main.some((i) => i.target === 'src/app.ts' && !i.typeOnly && !i.dynamic)).toBe(true);
    expect(main.some((i) => i.target === 'sandbox/start.ts' && i.typeOnly && !i.dynamic)).toBe(true);
    expect(main.some((i) => i.target === 'sandbox/start.ts' && i.dynamic && !i.typeOnly)).toBe(true);
    expect(importsOf('providers/types.ts').some((i) => i.target === 'sandbox/simulator-kit.ts' && i.typeOnly)).toBe(true);
  });

  it('providers/ imports nothing from src/, not even types', () => {
    const files = tsFiles('providers');
    expect(files.length).toBeGreaterThan(15);
    const offending = files.flatMap(importsOf).filter((i) => i.target.startsWith('src/'));
    expect(offending.map((i) => `${i.from} -> ${i.target}`)).toEqual([]);
  });

  it('src/ imports no simulator code, except src/main.ts through import() in sandbox mode', () => {
    const offending = tsFiles('src')
      .flatMap(importsOf)
      .filter((i) => isSimulatorCode(i.target) && !i.typeOnly && !(i.dynamic && i.from === 'src/main.ts'));
    expect(offending.map((i) => `${i.from} -> ${i.target}`)).toEqual([]);
  });

  it('a production start loads no simulator code, however indirectly', () => {
    for (const entry of ['src/main.ts', 'src/app.ts']) {
      const loaded = loadedBy(entry);
      expect(loaded.has('providers/index.ts'), entry).toBe(true);
      const simulators = [...loaded].filter(([file]) => isSimulatorCode(file)).map(([, chain]) => chain.join(' -> '));
      expect(simulators, entry).toEqual([]);
    }
  });
});
