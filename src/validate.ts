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
