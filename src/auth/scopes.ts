/**
 * Who a caller is and what it may do: the scope grammar (`keys:write:atlas`), caller names
 * namespaced by source, and the checks every operation runs first. No config or I/O here.
 */
import { createHash } from 'node:crypto';
import { forbiddenError } from '../core/errors.ts';

export type ScopeAction = 'keys:read' | 'keys:write' | 'audit:read';
export const SCOPE_ACTIONS: readonly ScopeAction[] = ['keys:read', 'keys:write', 'audit:read'];

export interface Scope {
  action: ScopeAction;
  /** A provider connection name, or `*` for every one. */
  provider: string;
}

export interface Caller {
  /** Namespaced by source (see callerName below); stands in the audit log, log lines and errors. */
  name: string;
  scopes: readonly Scope[];
  via: 'token' | 'jwt' | 'open';
}

/** The caller of a keygate without `auth`: loopback only, every scope. */
export const OPEN_CALLER: Caller = Object.freeze({
  name: 'anonymous@loopback',
  scopes: SCOPE_ACTIONS.map((action) => ({ action, provider: '*' })),
  via: 'open',
});

/**
 * Caller names carry their source, so a static token and a JWT subject spelled alike stay apart:
 * `token:<name>` (token names hold no `:` or `#`, src/config/schema.ts) and `jwt:<issuer>#<name claim>`
 * with `%` and `#` percent-encoded in the issuer, so the first `#` ends it. Neither prefix can be
 * produced by the other source, and the open caller's `anonymous@loopback` has no `:` at all.
 */
export const callerName = {
  token: (name: string): string => `token:${name}`,
  jwt: (issuer: string, subject: string): string => `jwt:${issuer.replace(/[%#]/g, encodeURIComponent)}#${subject}`,
};

/** `keys:write`, `keys:write:*` or `keys:write:<provider>`; undefined when it is none of these. */
export function parseScope(text: string): Scope | undefined {
  const m = /^(keys:read|keys:write|audit:read)(?::(\*|[A-Za-z][A-Za-z0-9_-]{0,63}))?$/.exec(text);
  if (!m) return undefined;
  return { action: m[1] as ScopeAction, provider: m[2] ?? '*' };
}

/** Whether the caller holds `action` on `provider` (any provider when `provider` is undefined). */
export function hasScope(caller: Caller, action: ScopeAction, provider?: string): boolean {
  return caller.scopes.some((s) => s.action === action && (provider === undefined || s.provider === '*' || s.provider === provider));
}

/** Throws FORBIDDEN unless the caller holds `action` on `provider`. Runs before anything else. */
export function authorize(caller: Caller, action: ScopeAction, provider?: string): void {
  if (!hasScope(caller, action, provider)) throw forbiddenError(caller.name, provider === undefined ? action : `${action}:${provider}`, provider);
}

/** The providers `action` covers for this caller: `'*'` for all, else the named ones. */
export function providersCovered(caller: Caller, action: ScopeAction): '*' | Set<string> {
  const names = new Set<string>();
  for (const s of caller.scopes) {
    if (s.action !== action) continue;
    if (s.provider === '*') return '*';
    names.add(s.provider);
  }
  return names;
}

/** The digest static tokens are kept and compared as. */
export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
