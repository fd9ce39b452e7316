/**
 * Secret handling for everything that leaves keygate: vendor bodies (`ApiKey.raw`), messages and
 * previews. A secret field is replaced by "[redacted]"; so is any value equal to a configured
 * credential, wherever it appears.
 */
export const REDACTED = '[redacted]';

/**
 * Returns a deep copy of `value` with the fields at `paths` (dot-separated, `*` for any key)
 * and every string holding a known secret replaced by "[redacted]".
 */
export function redactBody(value: unknown, paths: readonly string[], secrets: readonly string[]): unknown {
  const split = paths.map((p) => p.split('.'));
  const walk = (v: unknown, at: string[]): unknown => {
    if (typeof v === 'string') return containsSecret(v, secrets) ? REDACTED : v;
    if (Array.isArray(v)) return v.map((item) => walk(item, at));
    if (typeof v === 'object' && v !== null) {
      // fromEntries keeps every key as an own property, `__proto__` from a vendor body included.
      return Object.fromEntries(
        Object.entries(v).map(([k, child]) => {
          const here = [...at, k];
          // An empty secret field says only "none set", which is worth showing.
          const secret = split.some((p) => matches(p, here)) && child !== null && child !== undefined && child !== '';
          return [k, secret ? REDACTED : walk(child, here)];
        }),
      );
    }
    return v;
  };
  return walk(value, []);
}

/** Replaces every occurrence of a known secret inside free text. */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join(REDACTED);
  return out;
}

/** Whether `v` holds any known secret (secrets shorter than 4 characters are ignored). */
export function containsSecret(v: string, secrets: readonly string[]): boolean {
  return secrets.some((s) => s.length >= 4 && v.includes(s));
}

function matches(pattern: string[], path: string[]): boolean {
  return pattern.length === path.length && pattern.every((p, i) => p === '*' || p === path[i]);
}

/** A URL with its password shown as "[redacted]" (the whole URL when it does not parse). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = 'redacted';
    return u.toString().replace(':redacted@', ':[redacted]@');
  } catch {
    return REDACTED;
  }
}
