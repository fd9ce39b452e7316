/**
 * updateApiKey: check a patch locally, turn it into the vendor's call (a read-modify-write under the
 * key's lock where the vendor's write replaces the whole key), and turn the answer into an ApiKey
 * or a GatewayError. Nothing is sent upstream until every local check passed.
 */
import { readsBeforeWrite, type ApiKeyPatch } from '../../providers/types.ts';
import { authorize } from '../auth/scopes.ts';
import { connectionFor, currentOf, call, toApiKey } from '../core/call.ts';
import { checkUpdate } from '../core/checks.ts';
import type { Connection } from '../core/connections.ts';
import type { ApiKey, OperationContext } from '../core/context.ts';
import { startDeadline, type Deadline } from '../core/deadline.ts';
import { auditUnavailableError, badResponseError, keyBusyError, keyLockLostError } from '../core/errors.ts';
import { keptKeyId } from '../core/key-ids.ts';
import { KeyLockError } from '../core/key-lock.ts';
import { runOperation, type OperationProgress } from '../core/run-operation.ts';

/** A patch, or how to make it from the client's input (its failure is then this update's, audited). */
export type PatchSource = ApiKeyPatch | (() => ApiKeyPatch);

export function updateApiKey(ctx: OperationContext, provider: string, id: string, patch: PatchSource): Promise<ApiKey> {
  return runOperation(ctx, { operation: 'update', provider, keyId: id, patch, audited: true }, (progress) => applyUpdate(ctx, provider, id, patch, progress));
}

async function applyUpdate(ctx: OperationContext, provider: string, id: string, source: PatchSource, progress: OperationProgress): Promise<ApiKey> {
  authorize(ctx.caller, 'keys:write', provider);
  const connection = connectionFor(ctx, provider);
  const patch = typeof source === 'function' ? source() : source;
  checkUpdate(connection, provider, id, patch);
  // Fail closed: no audit intent recorded, nothing sent.
  await progress.begin();
  // One deadline from here on: the key-lock wait, the bulkhead queue and every attempt.
  const deadline = startDeadline(connection.deadlineMs, connection.clock);
  try {
    return await applyRecorded(ctx, connection, provider, id, patch, progress, deadline);
  } finally {
    deadline.dispose();
  }
}

async function applyRecorded(
  ctx: OperationContext,
  connection: Connection,
  provider: string,
  id: string,
  patch: ApiKeyPatch,
  progress: OperationProgress,
  deadline: Deadline,
): Promise<ApiKey> {
  const { adapter, settings } = connection;

  const loader = ctx.loaders.keys(connection);
  const reads = readsBeforeWrite(adapter, patch);
  let writesSent = 0;
  const write = async (): Promise<ApiKey> => {
    progress.attempt();
    try {
      const current = reads ? await currentOf(ctx, connection, id) : undefined;
      const request = adapter.buildUpdate(settings, id, patch, current);
      writesSent += 1;
      const res = await call(ctx, connection, provider, id, request);
      progress.answered(res.status);
      const normalized = adapter.normalize(res.json, id, request, settings);
      if (!normalized) throw badResponseError(provider, id, res.status, 'a body it does not document');
      const key = toApiKey(connection, provider, normalized, ctx.connections.secrets);
      // A later read in this operation sees the new value (for Tyk, the session as written).
      if (reads || !adapter.readBeforeWrite) loader.prime(id, { found: true, key, current: reads ? request.body : undefined });
      // A vendor that reads first only for some patches (SendGrid) has no written object to reuse.
      else loader.clear(id);
      connection.readCache?.written(id, key);
      return key;
    } catch (err) {
      // After a failed write the vendor's state is unknown: the next attempt reads afresh.
      loader.clear(id);
      connection.readCache?.written(id);
      throw err;
    }
  };

  // Tyk's PUT replaces the whole session, so its read-modify-write runs one at a time per key,
  // and a retry repeats the whole read-modify-write.
  // With the PostgreSQL audit store the lock also holds across gateway replicas.
  // Losing the PostgreSQL lock mid-call (its connection dropped) aborts the call.
  const resilient = (lost?: AbortSignal) => connection.resilience.execute(() => write(), joinSignals(ctx.signal, lost), deadline, 'update');
  if (!reads) return resilient();
  let cut: KeyLockError | undefined;
  try {
    return await connection.lock.run(id, deadline, (lost) =>
      resilient(lost).finally(() => {
        if (lost?.aborted) cut = lost.reason as KeyLockError;
      }),
    );
  } catch (err) {
    if (cut) {
      ctx.log.error({ provider, keyId: keptKeyId(connection, id), reason: cut.message, writesSent }, 'key lock lost mid-update; the call was cut');
      throw keyLockLostError(provider, id, cut.message, writesSent);
    }
    if (!(err instanceof KeyLockError)) throw err;
    ctx.log.error({ provider, keyId: keptKeyId(connection, id), lock: err.kind, reason: err.message }, 'key lock not taken; nothing sent');
    throw err.kind === 'timeout' ? keyBusyError(provider, id, err.message) : auditUnavailableError(provider, id);
  }
}

function joinSignals(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  return a && b ? AbortSignal.any([a, b]) : (a ?? b);
}
