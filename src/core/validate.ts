/**
 * Local checks that run before anything is sent upstream: the key id and the patch's shape.
 * Vendor-specific limits live in each adapter's `validate`.
 */
import { VENDOR_PATCH_FIELDS, type ApiKeyPatch, type FieldProblem, type PatchField } from '../../providers/types.ts';

export const MAX_ID_LENGTH = 256;
export const PATCH_FIELDS: readonly PatchField[] = ['name', 'enabled', 'roles', 'setTags', 'removeTags', 'expiresAt', ...VENDOR_PATCH_FIELDS];

/** Why an id is refused, or undefined when it is safe to percent-encode into a path. */
export function idProblem(id: string): string | undefined {
  if (id.length === 0) return 'must not be empty';
  if (id.length > MAX_ID_LENGTH) return `must be at most ${MAX_ID_LENGTH} characters`;
  if (!id.isWellFormed()) return ILL_FORMED;
  // `encodeURIComponent('..') === '..'`: dot segments would walk up the vendor's path.
  if (id === '.' || id === '..') return 'must not be "." or ".."';
  // `%` is refused so an id can never smuggle a pre-encoded `/` or `..` (`%2e%2e`, `%2f`).
  if (/[/\\?#%\s\p{Cc}]/u.test(id)) return 'must not contain "/", "\\", "?", "#", "%", whitespace or control characters';
  return undefined;
}

/** The patch fields the client actually set (null, and a vendor object such as `tyk` with no field, count as not set). */
export function setFields(patch: ApiKeyPatch): PatchField[] {
  return PATCH_FIELDS.filter((f) => {
    const value = patch[f];
    if (value === undefined || value === null) return false;
    if ((VENDOR_PATCH_FIELDS as readonly string[]).includes(f)) return Object.keys(value).length > 0;
    return true;
  });
}

const ILL_FORMED = 'must be well-formed Unicode (it holds a lone UTF-16 surrogate, which cannot be sent as UTF-8)';

/**
 * The string with each lone UTF-16 surrogate and NUL written as `\uXXXX` text, for the audit store
 * and logs: UTF-8 would turn a lone surrogate into U+FFFD, and PostgreSQL stores no NUL at all.
 */
export function recordableText(text: string): string {
  if (text.isWellFormed() && !text.includes('\u0000')) return text;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is matched on purpose, to be written out as text.
  return text.replace(/[\p{Surrogate}\u0000]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Object keys refused anywhere in a patch: `out[key] = …` on a plain object would drop them. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__']);

/** `a.b`, `a["x y"]`, `a[0]`: a path inside the patch as the client would read it. */
function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  const name = /^[A-Za-z_$][\w$]*$/.test(key) && !RESERVED_KEYS.has(key) ? key : undefined;
  if (path === '') return name ?? JSON.stringify(key);
  return name === undefined ? `${path}[${JSON.stringify(key)}]` : `${path}.${name}`;
}

/**
 * One walk over every value of the patch, for what no vendor can be sent as given: non-finite
 * numbers (JSON has none; they would go as `null`), ill-formed strings and object keys (lone
 * surrogates become U+FFFD), and reserved keys (`__proto__` would vanish). Call after
 * depthProblem, so the walk is bounded.
 */
export function valueProblems(patch: ApiKeyPatch): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const walk = (v: unknown, path: string): void => {
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) problems.push({ field: path, message: `must be a finite number (got ${v}); JSON cannot carry it` });
    } else if (typeof v === 'string') {
      if (!v.isWellFormed()) problems.push({ field: path, message: ILL_FORMED });
    } else if (Array.isArray(v)) {
      for (const [i, item] of v.entries()) walk(item, childPath(path, i));
    } else if (typeof v === 'object' && v !== null && !(v instanceof Date)) {
      for (const [key, child] of Object.entries(v)) {
        const at = childPath(path, key);
        if (RESERVED_KEYS.has(key))
          problems.push({ field: at, message: `uses the key "${key}", which keygate refuses (it would be dropped on the way to the vendor)` });
        else if (!key.isWellFormed()) problems.push({ field: at, message: `has a key that ${ILL_FORMED}` });
        walk(child, at);
      }
    }
  };
  walk(patch, '');
  return [...problems, ...tagProblems(patch)];
}

/**
 * Tag keys become map keys at some vendors (Mesa `tags`), so `__proto__` is refused; a key named
 * twice, or both set and removed, is refused rather than silently merged. Case rules are the vendor's.
 */
function tagProblems(patch: ApiKeyPatch): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const reserved = (field: string, key: string) => {
    if (RESERVED_KEYS.has(key))
      problems.push({ field, message: `must not be "${key}" (keygate refuses it as a key: it would be dropped on the way to the vendor)` });
  };
  const set = new Set<string>();
  patch.setTags?.forEach(({ key }, i) => {
    reserved(`setTags[${i}].key`, key);
    if (set.has(key)) problems.push({ field: `setTags[${i}].key`, message: `tag "${key}" appears more than once` });
    set.add(key);
  });
  const removed = new Set<string>();
  patch.removeTags?.forEach((key, i) => {
    reserved(`removeTags[${i}]`, key);
    if (removed.has(key)) problems.push({ field: `removeTags[${i}]`, message: `tag "${key}" appears more than once` });
    else if (set.has(key)) problems.push({ field: `removeTags[${i}]`, message: `tag "${key}" is both set and removed` });
    removed.add(key);
  });
  return problems;
}

const CONTROL = /[\p{Cc}\u2028\u2029]/u;

/**
 * Control characters (CR, LF, NUL, …) in the vendor-neutral text fields: no vendor needs them, and
 * downstream they split log lines, CSV exports and headers. Refused before anything is sent.
 */
export function controlCharacterProblems(patch: ApiKeyPatch): { field: string; message: string }[] {
  const problems: { field: string; message: string }[] = [];
  const check = (field: string, value: string | null | undefined) => {
    if (typeof value === 'string' && CONTROL.test(value)) problems.push({ field, message: 'must not contain control characters (CR, LF, NUL, …)' });
  };
  check('name', patch.name);
  for (const [i, r] of (patch.roles ?? []).entries()) check(`roles[${i}]`, r);
  for (const [i, t] of (patch.setTags ?? []).entries()) {
    check(`setTags[${i}].key`, t.key);
    check(`setTags[${i}].value`, t.value);
  }
  for (const [i, k] of (patch.removeTags ?? []).entries()) check(`removeTags[${i}]`, k);
  return problems;
}

/** How deep a patch may nest (Tyk `meta_data` is free-form JSON); deeper is refused before anything is sent. */
export const MAX_PATCH_DEPTH = 32;

/** Why the patch nests too deeply, or undefined. Iterative, so a hostile depth cannot overflow the stack. */
export function depthProblem(patch: ApiKeyPatch): string | undefined {
  const stack: [unknown, number][] = [[patch, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null || v instanceof Date) continue;
    if (depth >= MAX_PATCH_DEPTH) return `nests deeper than ${MAX_PATCH_DEPTH} levels`;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return undefined;
}
