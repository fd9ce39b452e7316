/**
 * Local checks that run before anything is sent upstream: the key id and the patch's shape.
 * Vendor-specific limits live in each adapter's `validate`.
 */
import type { ApiKeyPatch, PatchField } from '../providers/types.ts';

export const MAX_ID_LENGTH = 256;
export const PATCH_FIELDS: readonly PatchField[] = ['name', 'enabled', 'roles', 'setTags', 'removeTags', 'expiresAt', 'tyk'];

/** Why an id is refused, or undefined when it is safe to percent-encode into a path. */
export function idProblem(id: string): string | undefined {
  if (id.length === 0) return 'must not be empty';
  if (id.length > MAX_ID_LENGTH) return `must be at most ${MAX_ID_LENGTH} characters`;
  // `encodeURIComponent('..') === '..'`: dot segments would walk up the vendor's path.
  if (id === '.' || id === '..') return 'must not be "." or ".."';
  // `%` is refused so an id can never smuggle a pre-encoded `/` or `..` (`%2e%2e`, `%2f`).
  if (/[/\\?#%\s\p{Cc}]/u.test(id)) return 'must not contain "/", "\\", "?", "#", "%", whitespace or control characters';
  return undefined;
}

/** The patch fields the client actually set (null, and a `tyk` object with no field, count as not set). */
export function setFields(patch: ApiKeyPatch): PatchField[] {
  return PATCH_FIELDS.filter((f) => {
    const value = patch[f];
    if (value === undefined || value === null) return false;
    if (f === 'tyk') return Object.keys(value).length > 0;
    return true;
  });
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
  patch.roles?.forEach((r, i) => check(`roles[${i}]`, r));
  patch.setTags?.forEach((t, i) => {
    check(`setTags[${i}].key`, t.key);
    check(`setTags[${i}].value`, t.value);
  });
  patch.removeTags?.forEach((k, i) => check(`removeTags[${i}]`, k));
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
