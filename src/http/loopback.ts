/**
 * Loopback addresses and names: where keygate may listen without `auth`, and the only `Host`
 * values it answers then (a guard against DNS rebinding from a browser on the same machine).
 */
import { isIP } from 'node:net';

/** Whether a listen address or host name is loopback: localhost, 127.0.0.0/8, ::1. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

/** Whether a `Host` header (name or address, optional port) names a loopback host. */
export function isLoopbackHostHeader(header: string | null): boolean {
  if (!header) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(header.trim());
  return m !== null && isLoopback(m[1]);
}
