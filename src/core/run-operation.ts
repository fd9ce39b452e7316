/**
 * Runs one key operation and accounts for it: the outcome counter (by provider and code), one structured log line (request id, caller,
 * provider, key id, code, upstream status, attempts, duration) and, for updates and previews, the
 * audit log — written before the client's answer leaves.
 *
 * An update calls `begin()` once its local checks passed and before anything is sent: that writes
 * the intent row, and if it cannot be written the update is refused with AUDIT_UNAVAILABLE (fail
 * closed). The outcome row follows whatever happens. An operation that sent no write (denied,
 * invalid, a preview) writes only its outcome row; if even that fails the answer is
 * AUDIT_UNAVAILABLE, so nothing is answered without a record. Once an intent row exists the vendor
 * may have applied the change, so a failed outcome write is logged and the true answer is given.
 */
import { randomUUID } from 'node:crypto';
import type { ApiKeyPatch } from '../../providers/types.ts';
import type { OperationContext } from './context.ts';
import { auditUnavailableError, GatewayError, type UpstreamInfo } from './errors.ts';
import { keptKeyId } from './key-ids.ts';
import { containsSecret, REDACTED } from './redact.ts';
import { MAX_PATCH_DEPTH, recordableText } from './validate.ts';
import type { AuditRow } from '../audit/model.ts';

/** What accounting needs of an operation's context. */
export type RunOperationContext = Pick<OperationContext, 'caller' | 'log' | 'requestId' | 'audit' | 'metrics' | 'connections'>;

export type KeyOperation = 'update' | 'preview' | 'updateApiKeys' | 'startApiKeyUpdateJob' | 'read' | 'list';

export interface OperationMeta {
  operation: KeyOperation;
  provider: string | null;
  keyId: string | null;
  /** The patch, for the audit entry (redacted there); a function is called, and its failure recorded as no patch. */
  patch?: ApiKeyPatch | (() => ApiKeyPatch);
  /** Written to the audit log (updates, previews, bulk refusals); reads are only logged. */
  audited: boolean;
}

export interface OperationProgress {
  /** Writes the intent row; throws AUDIT_UNAVAILABLE when it cannot. Call before anything is sent. */
  begin(): Promise<void>;
  /** One upstream attempt of the write is starting. */
  attempt(): void;
  /** The vendor's answer to the write. */
  answered(status: number, traceId?: string): void;
}

/** Longest provider name / key id stored as the client typed it (longer ones are cut). */
const MAX_FIELD = 256;
/** Patch fields whose values are credentials (Tyk `hmac_string`, `jwt_data.secret`, `basic_auth_data.password`). */
const SECRET_KEY = /^(?:.*_)?(?:secret|password|token|private_?key)$|^hmac_string$/i;

/**
 * A UUIDv7 (RFC 9562: 48-bit Unix milliseconds, version 7, random rest), so attempt ids are added
 * at the end of the index, not at random places: cheaper SQLite inserts, a compact PostgreSQL
 * B-tree. The random bits come from `randomUUID`, whose entropy Node draws in batches.
 */
export function timeOrderedUUID(now = Date.now()): string {
  const ms = now.toString(16).padStart(12, '0');
  // randomUUID(): xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx (V holds the RFC variant bits already)
  return `${ms.slice(0, 8)}-${ms.slice(8)}-7${randomUUID().slice(15)}`;
}

export async function runOperation<T>(ctx: RunOperationContext, meta: OperationMeta, work: (progress: OperationProgress) => Promise<T>): Promise<T> {
  const started = performance.now();
  const attemptId = timeOrderedUUID();
  const { audit } = ctx;
  let intentWritten = false;
  let attempts = 0;
  let answered: { status: number; traceId?: string } | undefined;
  let patch: unknown;
  const recordedPatch = () => (patch ??= patchForRecord(meta.patch, ctx.connections.secrets));
  // Where a key id is a live credential (Tyk), only its fingerprint is kept.
  const keyId = meta.keyId === null ? null : keptKeyId(meta.provider === null ? undefined : ctx.connections.get(meta.provider), meta.keyId);

  const row = (phase: AuditRow['phase'], outcome: string, extra: Partial<AuditRow> = {}): AuditRow => ({
    attemptId,
    phase,
    at: new Date(),
    caller: ctx.caller.name,
    requestId: ctx.requestId ?? '',
    provider: cut(meta.provider),
    keyId: cut(keyId),
    operation: meta.operation,
    patch: recordedPatch(),
    outcome,
    upstreamStatus: null,
    traceId: null,
    attempts: null,
    durationMs: null,
    ...extra,
  });
  const append = async (r: AuditRow) => {
    const t = performance.now();
    await audit!.append(r);
    ctx.metrics?.auditWriteDuration.observe({ store: audit!.kind }, (performance.now() - t) / 1000);
  };

  const progress: OperationProgress = {
    async begin() {
      if (!audit || !meta.audited) return;
      try {
        await append(row('intent', 'PENDING'));
        intentWritten = true;
      } catch (err) {
        ctx.log.error({ err: errorSummary(err), store: audit.kind, provider: meta.provider, keyId }, 'audit write failed; operation refused');
        throw auditUnavailableError(meta.provider ?? undefined, meta.keyId ?? undefined);
      }
    },
    attempt: () => {
      attempts += 1;
    },
    answered: (status, traceId) => {
      answered = { status, traceId };
    },
  };

  let result: T | undefined;
  let error: unknown;
  try {
    result = await work(progress);
  } catch (err) {
    error = err;
  }

  const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
  const code = error === undefined ? 'OK' : error instanceof GatewayError ? error.code : 'INTERNAL_SERVER_ERROR';
  const ext = error instanceof GatewayError ? (error.extensions as { upstream?: UpstreamInfo; attempts?: number }) : {};
  const status = ext.upstream?.status ?? answered?.status ?? null;
  const traceId = ext.upstream?.traceId ?? answered?.traceId ?? null;
  const attemptCount = ext.upstream?.attempts ?? ext.attempts ?? (attempts > 0 ? attempts : null);
  // The request's logger already binds requestId and caller (src/http/gateway.ts): a second `caller` would repeat the JSON key.
  const fields = { operation: meta.operation, provider: text(meta.provider), keyId: text(keyId), code, status, attempts: attemptCount, durationMs };
  // A provider name a client typed is a metric label only when it names a configured connection.
  if (meta.provider !== null)
    ctx.metrics?.outcomes.inc({ provider: ctx.connections.get(meta.provider) ? meta.provider : '(unknown)', operation: meta.operation, code });
  if (code === 'INTERNAL_SERVER_ERROR') ctx.log.error({ ...fields, err: error }, 'key operation failed unexpectedly');
  else ctx.log.info(fields, 'key operation');

  const refusedAtIntent = code === 'AUDIT_UNAVAILABLE' && !intentWritten;
  if (audit && meta.audited && !refusedAtIntent) {
    try {
      await append(row('outcome', code, { upstreamStatus: status, traceId, attempts: attemptCount, durationMs }));
    } catch (err) {
      ctx.log.error({ err: errorSummary(err), store: audit.kind, ...fields }, 'audit write failed for an outcome');
      if (!intentWritten) throw auditUnavailableError(meta.provider ?? undefined, meta.keyId ?? undefined);
    }
  }
  if (error !== undefined) throw error;
  return result as T;
}

/** A client's string as recorded (`recordableText`): what was sent, in a form every store keeps. */
function text(value: string | null): string | null {
  return value === null ? null : recordableText(value);
}

function cut(value: string | null): string | null {
  if (value === null) return null;
  return text(value.length > MAX_FIELD ? `${value.slice(0, MAX_FIELD)}…` : value);
}

/** The patch as stored: plain JSON, credential fields and configured secrets replaced by "[redacted]". */
export function patchForRecord(patch: OperationMeta['patch'], secrets: readonly string[]): unknown {
  let value: unknown;
  try {
    value = typeof patch === 'function' ? patch() : patch;
  } catch {
    return null;
  }
  if (value === undefined || value === null) return null;
  const walk = (v: unknown, key: string | undefined, depth: number): unknown => {
    if (key !== undefined && SECRET_KEY.test(key) && v !== null && v !== undefined && v !== '') return REDACTED;
    if (typeof v === 'string') return containsSecret(v, secrets) ? REDACTED : recordableText(v);
    if (v instanceof Date) return v.toISOString();
    // JSON has no Infinity or NaN (it would store null): such a number is recorded as its name.
    if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
    if (typeof v !== 'object' || v === null) return typeof v === 'boolean' ? v : null;
    // A hostile patch may nest deeper than any vendor field; the record stops where checks would.
    if (depth >= MAX_PATCH_DEPTH) return '[too deep]';
    if (Array.isArray(v)) return v.map((item) => walk(item, undefined, depth + 1));
    return Object.fromEntries(Object.entries(v).map(([k, child]) => [recordableText(k), walk(child, k, depth + 1)]));
  };
  return walk(value, undefined, 0);
}

/** An error for a log line: its name, code and message, never a connection string. */
function errorSummary(err: unknown): { name: string; code?: string; message: string } {
  const e = err as { name?: string; code?: string; message?: string };
  return { name: e?.name ?? 'Error', ...(e?.code && { code: String(e.code) }), message: String(e?.message ?? err) };
}
