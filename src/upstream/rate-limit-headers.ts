/**
 * Reading a vendor's rate-limit headers in the dialect its adapter declares
 * (`ProviderAdapter.rateLimitHeaders`): how many requests are left in its window and when the window
 * resets. Pure: the caller passes the wall clock. A value that is not a plain non-negative number
 * (garbage, negative, fractional counts) is ignored, and so is a reset more than MAX_RESET_SECONDS
 * away or not in the future: a reset read in the wrong unit (epoch seconds taken as relative ones
 * give ~56 years; relative ones taken as epoch seconds lie in 1970) is dropped rather than obeyed.
 */
import type { RateLimitHeaders } from '../../providers/types.ts';

export interface RateLimitSignal {
  /** Requests left in the vendor's window; undefined when not stated or not a count. */
  remaining?: number;
  /** Milliseconds until the window resets; undefined when not stated, not in the future or absurd. */
  resetMs?: number;
}

/** A reset further away than a day is a misread header, not a window (the longest documented is 5 minutes). */
export const MAX_RESET_SECONDS = 86_400;

const COUNT = /^\d{1,15}$/;
const SECONDS = /^\d{1,15}(\.\d{1,6})?$/;

/** The signal in `headers` per `dialect`; `epochNowMs` is the wall clock (for resets given as Unix times). */
export function readRateLimitHeaders(dialect: RateLimitHeaders, headers: Headers, epochNowMs: number): RateLimitSignal {
  if (dialect.format === 'structured') {
    const value = headers.get(dialect.header);
    return value === null ? {} : parseStructured(value);
  }
  const out: RateLimitSignal = {};
  const remaining = count(headers.get(dialect.remaining));
  if (remaining !== undefined) out.remaining = remaining;
  if (dialect.reset !== undefined) {
    const raw = headers.get(dialect.reset)?.trim();
    if (raw !== undefined && SECONDS.test(raw)) {
      const seconds = Number(raw);
      const resetMs = dialect.resetUnit === 'epochSeconds' ? seconds * 1000 - epochNowMs : seconds * 1000;
      const ms = usableReset(resetMs);
      if (ms !== undefined) out.resetMs = ms;
    }
  }
  return out;
}

/**
 * The IETF draft's `RateLimit` field (draft-ietf-httpapi-ratelimit-headers), as Cloudflare sends it:
 * a list of policies `"name";r=<remaining>;t=<seconds to reset>`. With several, the one with the
 * fewest requests left counts (the latest reset among equals): it is the one that refuses first.
 */
export function parseStructured(value: string): RateLimitSignal {
  let best: { r: number; t?: number } | undefined;
  for (const item of splitOutsideQuotes(value, ',')) {
    const params = splitOutsideQuotes(item, ';').slice(1);
    let r: number | undefined;
    let t: number | undefined;
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const key = p.slice(0, eq).trim();
      const v = p.slice(eq + 1).trim();
      if (key === 'r') r = count(v);
      else if (key === 't' && COUNT.test(v)) t = usableReset(Number(v) * 1000);
    }
    if (r === undefined) continue;
    if (!best || r < best.r || (r === best.r && (t ?? 0) > (best.t ?? 0))) best = { r, t };
  }
  if (!best) return {};
  return { remaining: best.r, ...(best.t !== undefined && { resetMs: best.t }) };
}

function count(raw: string | null | undefined): number | undefined {
  const v = raw?.trim();
  return v !== undefined && COUNT.test(v) ? Number(v) : undefined;
}

function usableReset(ms: number): number | undefined {
  return Number.isFinite(ms) && ms > 0 && ms <= MAX_RESET_SECONDS * 1000 ? ms : undefined;
}

/** `text` split at `sep`, except inside double-quoted strings (a policy name may hold either). */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const parts: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && quoted) i += 1;
    else if (c === '"') quoted = !quoted;
    else if (c === sep && !quoted) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}
