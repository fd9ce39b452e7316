/**
 * The audit log's storage contract and row model, and the SQL both stores share: SQLite
 * (node:sqlite, one file, the embedded default) or PostgreSQL (several replicas); store.ts opens one.
 *
 * The log is append-only. An update writes two rows: an `intent` before anything is sent
 * upstream (if that write fails, the update is refused: fail closed) and an `outcome` once it is
 * known. Everything else (previews, denials, local validation failures) writes one `outcome` row.
 * Readers see one entry per attempt: its outcome row, or — while none exists (in flight, or the
 * process died mid-call) — its intent row with outcome `PENDING`.
 */
import type { KeyLock } from '../core/key-lock.ts';
import type { BucketStore } from '../upstream/rate-limit.ts';
import type { JobStore } from '../jobs/store.ts';

export interface AuditRow {
  /** Ties an intent row to its outcome row. */
  attemptId: string;
  phase: 'intent' | 'outcome';
  at: Date;
  /** The namespaced caller name (src/auth/ callerName). */
  caller: string;
  requestId: string;
  provider: string | null;
  keyId: string | null;
  /** update, preview or updateApiKeys. */
  operation: string;
  /** The patch as the client sent it, secrets redacted. */
  patch: unknown;
  /** OK, an error code, or PENDING (an intent). */
  outcome: string;
  upstreamStatus: number | null;
  traceId: string | null;
  attempts: number | null;
  durationMs: number | null;
}

export interface AuditEntry extends Omit<AuditRow, 'phase' | 'attemptId'> {
  /** The row's sequence number (increasing). */
  id: string;
}

export interface AuditFilter {
  provider?: string;
  keyId?: string;
  /** The stored forms `keyId` may take (the id, its fingerprint); when set, matched instead of `keyId`. */
  keyIdForms?: string[];
  caller?: string;
  outcome?: string;
  since?: Date;
  until?: Date;
  /** Only entries of these providers (a caller whose audit:read is narrowed); undefined: all. */
  visibleProviders?: string[];
}

export interface AuditPage {
  /** Newest first. */
  entries: AuditEntry[];
  hasNextPage: boolean;
}

export interface AuditStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Resolves once the row is stored; rejects when it cannot be. */
  append(row: AuditRow): Promise<void>;
  /** `first` entries older than entry `before` (undefined: the newest). */
  query(filter: AuditFilter, first: number, before?: number): Promise<AuditPage>;
  /** Readiness: undefined when the store answers, else why not. */
  check(): Promise<string | undefined>;
  /**
   * A per-key lock that also holds across gateway processes (PostgreSQL advisory locks). `scope`
   * names the vendor account (kind and base URL), so replicas with one config share the locks.
   */
  createKeyLock?(scope: string): KeyLock;
  /** Durable bulk update jobs (src/jobs/store.ts), in this store's database. */
  readonly jobs?: JobStore;
  /** Rate-limit buckets every replica on this store shares (PostgreSQL). */
  createBucketStore?(): BucketStore;
  close(): Promise<void>;
}

export class AuditStoreError extends Error {
  override readonly name = 'AuditStoreError';
}

/** Column order shared by both stores. */
export const COLUMNS = [
  'attempt_id',
  'phase',
  'at',
  'caller',
  'request_id',
  'provider',
  'key_id',
  'operation',
  'patch',
  'outcome',
  'upstream_status',
  'trace_id',
  'attempts',
  'duration_ms',
] as const;

/** A row's values in COLUMNS order (`at` and `patch` in the store's own form). */
export function rowValues(row: AuditRow, at: unknown, patch: unknown): unknown[] {
  return [
    row.attemptId,
    row.phase,
    at,
    row.caller,
    row.requestId,
    row.provider,
    row.keyId,
    row.operation,
    patch,
    row.outcome,
    row.upstreamStatus,
    row.traceId,
    row.attempts,
    row.durationMs,
  ];
}

/** A stored row (snake_case columns) as an entry. */
export function toEntry(r: Record<string, unknown>, parsePatch: (v: unknown) => unknown): AuditEntry {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    id: String(r.seq),
    at: r.at instanceof Date ? r.at : new Date(String(r.at)),
    caller: String(r.caller),
    requestId: String(r.request_id),
    provider: (r.provider as string | null) ?? null,
    keyId: (r.key_id as string | null) ?? null,
    operation: String(r.operation),
    patch: parsePatch(r.patch),
    outcome: String(r.outcome),
    upstreamStatus: num(r.upstream_status),
    traceId: (r.trace_id as string | null) ?? null,
    attempts: num(r.attempts),
    durationMs: num(r.duration_ms),
  };
}

/**
 * The query both stores run: one entry per attempt (its outcome row, or its intent row while it
 * has none), filtered, newest first. `param(i)` is the store's placeholder for the i-th value.
 */
export function entryQuery(
  table: string,
  filter: AuditFilter,
  first: number,
  before: number | undefined,
  param: (i: number) => string,
  toAt: (d: Date) => unknown,
): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return param(params.length);
  };
  const where = [`(a.phase = 'outcome' OR NOT EXISTS (SELECT 1 FROM ${table} o WHERE o.attempt_id = a.attempt_id AND o.phase = 'outcome'))`];
  if (filter.provider !== undefined) where.push(`a.provider = ${p(filter.provider)}`);
  if (filter.keyIdForms !== undefined) where.push(filter.keyIdForms.length ? `a.key_id IN (${filter.keyIdForms.map((v) => p(v)).join(', ')})` : 'FALSE');
  else if (filter.keyId !== undefined) where.push(`a.key_id = ${p(filter.keyId)}`);
  if (filter.caller !== undefined) where.push(`a.caller = ${p(filter.caller)}`);
  if (filter.outcome !== undefined) where.push(`a.outcome = ${p(filter.outcome)}`);
  if (filter.since !== undefined) where.push(`a.at >= ${p(toAt(filter.since))}`);
  if (filter.until !== undefined) where.push(`a.at < ${p(toAt(filter.until))}`);
  if (filter.visibleProviders !== undefined)
    where.push(filter.visibleProviders.length ? `a.provider IN (${filter.visibleProviders.map((v) => p(v)).join(', ')})` : 'FALSE');
  if (before !== undefined) where.push(`a.seq < ${p(before)}`);
  const sql = `SELECT a.seq, ${COLUMNS.map((c) => `a.${c}`).join(', ')} FROM ${table} a WHERE ${where.join(' AND ')} ORDER BY a.seq DESC LIMIT ${p(first + 1)}`;
  return { sql, params };
}
