/**
 * The mapping language of declarative providers: JSON/YAML templates with `{{ expression }}`
 * placeholders. An expression only reads values (paths into the named roots such as `patch`, `id`,
 * `config`, `current`, `body`), picks the first present one (`a ?? b`) and applies fixed filters
 * (`| iso`). There is no function call, no environment, file or network access, and evaluation is
 * linear in the template's size (size and depth are capped at compile time).
 * Everything is compiled once, at start-up; a problem names its config path.
 */

/** The values an expression can read, by root name. */
export type Scope = Readonly<Record<string, unknown>>;

export interface Compiled {
  /** The template's value; undefined means "absent" (an object field holding it is left out). */
  evaluate(scope: Scope): unknown;
}

/** Templates deeper or bigger than this are refused at start-up (evaluation is bounded by them). */
export const MAX_TEMPLATE_DEPTH = 16;
export const MAX_TEMPLATE_NODES = 2000;
const MAX_EXPRESSION_LENGTH = 500;

/** The filters `| name` an expression may apply. */
export const FILTERS: Record<string, (v: unknown) => unknown> = {
  /** A date (Date, ISO string, unix seconds) as an ISO-8601 string. */
  iso: (v) => {
    const d = toDateValue(v);
    return d === undefined ? v : d.toISOString();
  },
  /** A date as whole unix seconds. */
  seconds: (v) => {
    const d = toDateValue(v);
    return d === undefined ? v : Math.floor(d.getTime() / 1000);
  },
  /** Boolean negation (`is_inactive` = not enabled). */
  not: (v) => (typeof v === 'boolean' ? !v : v),
  string: (v) => (v === undefined || v === null ? v : typeof v === 'object' ? JSON.stringify(v) : String(v)),
  /** An object map as `[{key, value}]` (tags). */
  entries: (v) => (isRecord(v) ? Object.entries(v).map(([key, value]) => ({ key, value })) : v),
  /** `[{key, value}]` as an object map. */
  object: (v) => (Array.isArray(v) ? Object.fromEntries(v.filter(isRecord).map((e) => [String(e.key), e.value ?? null])) : v),
  first: (v) => (Array.isArray(v) ? v[0] : v),
  /** A number from a numeric string (header values). */
  number: (v) => (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v),
  /** Whether the value is present (not undefined or null). */
  exists: (v) => v !== undefined && v !== null,
};

export class TemplateProblems {
  readonly list: string[] = [];
  add(at: string, message: string): void {
    this.list.push(`${at}: ${message}`);
  }
}

interface Budget {
  nodes: number;
}

/**
 * Compiles a template. `roots` are the names an expression may start with here (others are a
 * start-up error naming `at`).
 */
export function compileTemplate(value: unknown, at: string, roots: readonly string[], problems: TemplateProblems): Compiled {
  return compileNode(value, at, roots, problems, 0, { nodes: 0 });
}

/** Compiles one expression (the text inside `{{ }}`, or a bare expression field such as `list.items`). */
export function compileExpression(text: string, at: string, roots: readonly string[], problems: TemplateProblems): Compiled {
  const fn = parseExpression(text, at, roots, problems);
  return { evaluate: fn };
}

function compileNode(value: unknown, at: string, roots: readonly string[], problems: TemplateProblems, depth: number, budget: Budget): Compiled {
  budget.nodes += 1;
  if (budget.nodes === MAX_TEMPLATE_NODES + 1) problems.add(at, `the template is too big (more than ${MAX_TEMPLATE_NODES} values)`);
  if (depth > MAX_TEMPLATE_DEPTH) {
    problems.add(at, `nests deeper than ${MAX_TEMPLATE_DEPTH} levels`);
    return constant(undefined);
  }
  if (typeof value === 'string') return compileString(value, at, roots, problems);
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return constant(value);
  if (Array.isArray(value)) {
    const items = value.map((v, i) => compileNode(v, `${at}.${i}`, roots, problems, depth + 1, budget));
    return { evaluate: (scope) => items.map((c) => c.evaluate(scope)).filter((v) => v !== undefined) };
  }
  if (isRecord(value)) {
    if ('$merge' in value) return compileMerge(value, at, roots, problems, depth, budget);
    if ('$value' in value) return compileValueMap(value, at, roots, problems);
    const fields: [string, Compiled][] = [];
    for (const [key, child] of Object.entries(value)) {
      if (key.startsWith('$')) {
        problems.add(`${at}.${key}`, 'unknown operator (allowed: $value with $map/$default, $merge)');
        continue;
      }
      fields.push([key, compileNode(child, `${at}.${key}`, roots, problems, depth + 1, budget)]);
    }
    return {
      evaluate: (scope) => {
        const out: Record<string, unknown> = {};
        for (const [key, c] of fields) {
          const v = c.evaluate(scope);
          if (v !== undefined) Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
        }
        return out;
      },
    };
  }
  problems.add(at, `is not a template value (${typeof value})`);
  return constant(undefined);
}

/** `{$merge: [a, b, …]}`: the objects merged left to right (absent fields of later ones keep earlier values). */
function compileMerge(
  value: Record<string, unknown>,
  at: string,
  roots: readonly string[],
  problems: TemplateProblems,
  depth: number,
  budget: Budget,
): Compiled {
  const extra = Object.keys(value).filter((k) => k !== '$merge');
  if (extra.length) problems.add(at, `$merge takes no other fields (found ${extra.join(', ')})`);
  const parts = value.$merge;
  if (!Array.isArray(parts) || parts.length === 0) {
    problems.add(`${at}.$merge`, 'must be a non-empty list of templates');
    return constant(undefined);
  }
  const compiled = parts.map((p, i) => compileNode(p, `${at}.$merge.${i}`, roots, problems, depth + 1, budget));
  return {
    evaluate: (scope) => {
      const out: Record<string, unknown> = {};
      for (const c of compiled) {
        const v = c.evaluate(scope);
        if (isRecord(v))
          for (const [k, child] of Object.entries(v))
            if (child !== undefined) Object.defineProperty(out, k, { value: child, enumerable: true, writable: true, configurable: true });
      }
      return out;
    },
  };
}

/** `{$value: "{{ expr }}", $map: {from: to}, $default: v}`: a value translated through a table. */
function compileValueMap(value: Record<string, unknown>, at: string, roots: readonly string[], problems: TemplateProblems): Compiled {
  const extra = Object.keys(value).filter((k) => !['$value', '$map', '$default'].includes(k));
  if (extra.length) problems.add(at, `unknown field(s) ${extra.join(', ')} (allowed with $value: $map, $default)`);
  const source = value.$value;
  if (typeof source !== 'string') {
    problems.add(`${at}.$value`, 'must be an expression string, e.g. "{{ patch.enabled }}"');
    return constant(undefined);
  }
  const inner = compileString(source.includes('{{') ? source : `{{${source}}}`, `${at}.$value`, roots, problems);
  const table = value.$map;
  if (table !== undefined && !isRecord(table)) problems.add(`${at}.$map`, 'must be a mapping from values to values');
  const map = isRecord(table) ? new Map(Object.entries(table)) : undefined;
  const fallback = value.$default;
  return {
    evaluate: (scope) => {
      const v = inner.evaluate(scope);
      if (v === undefined || v === null) return fallback ?? v;
      if (!map) return v;
      const key = typeof v === 'object' ? JSON.stringify(v) : String(v);
      return map.has(key) ? map.get(key) : fallback;
    },
  };
}

const PLACEHOLDER = /\{\{([\s\S]*?)\}\}/g;

function compileString(text: string, at: string, roots: readonly string[], problems: TemplateProblems): Compiled {
  const whole = /^\{\{([\s\S]*)\}\}$/.exec(text);
  if (whole && !whole[1].includes('{{') && !whole[1].includes('}}')) return compileExpression(whole[1], at, roots, problems);
  const parts: (string | Compiled)[] = [];
  let last = 0;
  for (const m of text.matchAll(PLACEHOLDER)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push(compileExpression(m[1], at, roots, problems));
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  if (parts.every((p) => typeof p === 'string')) {
    if (text.includes('{{') || text.includes('}}')) problems.add(at, 'has an unbalanced "{{" or "}}"');
    return constant(text);
  }
  return {
    evaluate: (scope) => {
      let out = '';
      for (const p of parts) {
        if (typeof p === 'string') out += p;
        else {
          const v = p.evaluate(scope);
          if (v === undefined || v === null) return undefined;
          out += v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v);
        }
      }
      return out;
    },
  };
}

type Getter = (scope: Scope) => unknown;

/** expression := alternative ("??" alternative)* ; alternative := operand ("|" filter)* */
function parseExpression(source: string, at: string, roots: readonly string[], problems: TemplateProblems): Getter {
  const text = source.trim();
  if (text.length === 0) {
    problems.add(at, 'has an empty expression "{{ }}"');
    return () => undefined;
  }
  if (text.length > MAX_EXPRESSION_LENGTH) {
    problems.add(at, `has an expression longer than ${MAX_EXPRESSION_LENGTH} characters`);
    return () => undefined;
  }
  const alternatives = splitOutsideQuotes(text, '??').map((alt) => parseAlternative(alt.trim(), at, roots, problems));
  return (scope) => {
    let v: unknown;
    for (const alt of alternatives) {
      v = alt(scope);
      if (v !== undefined && v !== null) return v;
    }
    return v;
  };
}

function parseAlternative(text: string, at: string, roots: readonly string[], problems: TemplateProblems): Getter {
  const [operand, ...filters] = splitOutsideQuotes(text, '|').map((p) => p.trim());
  const get = parseOperand(operand, at, roots, problems);
  const fns = filters.map((name) => {
    const fn = Object.hasOwn(FILTERS, name) ? FILTERS[name] : undefined;
    if (!fn) problems.add(at, `unknown filter "${name}" (allowed: ${Object.keys(FILTERS).join(', ')})`);
    return fn ?? ((v: unknown) => v);
  });
  return (scope) => fns.reduce((v, fn) => fn(v), get(scope));
}

function parseOperand(text: string, at: string, roots: readonly string[], problems: TemplateProblems): Getter {
  if (text === 'true' || text === 'false' || text === 'null') {
    const v = JSON.parse(text) as unknown;
    return () => v;
  }
  if (/^-?\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    return () => n;
  }
  if (text.startsWith('"') || text.startsWith("'")) {
    const m = /^(["'])((?:(?!\1)[^\\]|\\.)*)\1$/.exec(text);
    if (!m) {
      problems.add(at, `has an unterminated string in "${text}"`);
      return () => undefined;
    }
    const v = m[2].replace(/\\(.)/g, '$1');
    return () => v;
  }
  const path = parsePath(text);
  if (!path) {
    problems.add(at, `"${text}" is not a path (write root.field.sub, root.list[0] or root["odd key"])`);
    return () => undefined;
  }
  if (!roots.includes(path[0] as string)) {
    problems.add(at, `"${path[0]}" is not available here (available: ${roots.join(', ')})`);
    return () => undefined;
  }
  return (scope) => readPath(scope, path);
}

/** `a.b-c[0]["x y"]` as segments; undefined when malformed. */
export function parsePath(text: string): (string | number)[] | undefined {
  const root = /^[A-Za-z_$][\w$]*/.exec(text);
  if (!root) return undefined;
  const out: (string | number)[] = [root[0]];
  let rest = text.slice(root[0].length);
  while (rest.length > 0) {
    const m = /^\.([A-Za-z_$][\w$-]*)/.exec(rest) ?? /^\[(\d+)\]/.exec(rest) ?? /^\["((?:[^"\\]|\\.)*)"\]/.exec(rest);
    if (!m) return undefined;
    if (m[0].startsWith('.')) out.push(m[1]);
    else if (m[0].startsWith('["')) out.push(m[1].replace(/\\(.)/g, '$1'));
    else out.push(Number(m[1]));
    rest = rest.slice(m[0].length);
  }
  return out;
}

/** Own properties only: an expression can never reach a prototype (`constructor`, `__proto__`). */
export function readPath(value: unknown, path: readonly (string | number)[]): unknown {
  let v: unknown = value;
  for (const seg of path) {
    if (typeof seg === 'number') {
      if (!Array.isArray(v) || seg >= v.length) return undefined;
      v = v[seg];
    } else if (v instanceof Headers) {
      v = v.get(seg) ?? undefined;
    } else {
      if (!isRecord(v) || !Object.hasOwn(v, seg)) return undefined;
      v = v[seg];
    }
  }
  return v;
}

function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (text.startsWith(sep, i) && !(sep === '|' && text.startsWith('||', i))) {
      out.push(text.slice(start, i));
      i += sep.length - 1;
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

function constant(v: unknown): Compiled {
  return { evaluate: () => v };
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Headers);
}

/** A Date from a Date, an ISO string or unix seconds; undefined otherwise. */
export function toDateValue(v: unknown): Date | undefined {
  let d: Date | undefined;
  if (v instanceof Date) d = v;
  else if (typeof v === 'string' && v !== '') d = new Date(v);
  else if (typeof v === 'number' && Number.isFinite(v)) d = new Date(v * 1000);
  return d && !Number.isNaN(d.getTime()) ? d : undefined;
}
