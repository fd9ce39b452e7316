/**
 * Runs durable bulk update jobs (src/jobs/store.ts). Every replica polls for jobs that need a
 * runner (QUEUED, or RUNNING with a lapsed lease) and runs those whose lease it takes; it renews
 * the lease while it runs and stops taking new items when it loses it (another replica then
 * resumes). Items run as `updateApiKeys` items do (src/operations/update-api-keys.ts), each audited
 * as an update with request id `job:<id>`.
 *
 * Before an item is sent it is stored PENDING; once its result is known, SUCCEEDED or FAILED. A
 * PENDING item found on resume (the process died mid-call) is not sent blindly: where the vendor
 * can be read, the key is read and the item is done if the change is already there; otherwise it
 * is sent again (the built-in vendors' updates are idempotent: they set values, never increment;
 * a `kind: http` update that is not idempotent is sent again too: docs/bulk-and-rate-limits.md).
 */
import { VENDOR_PATCH_FIELDS, type ApiKeyPatch, type NormalizedKey } from '../../providers/types.ts';
import type { AuditStore } from '../audit/model.ts';
import { parseScope, type Caller } from '../auth/scopes.ts';
import type { Connections } from '../core/connections.ts';
import type { OperationContext } from '../core/context.ts';
import { GatewayError } from '../core/errors.ts';
import { fingerprintKeyId, idIsSecret } from '../core/key-ids.ts';
import { createLoaders, withLoaders } from '../core/loaders.ts';
import type { Logger } from '../observability/log.ts';
import type { Metrics } from '../observability/metrics.ts';
import { patchFor } from '../operations/update-api-key.fields.ts';
import { errorResult, runUpdateItems, type ApiKeyUpdateInput, type ApiKeyUpdateResult } from '../operations/update-api-keys.ts';
import type { ItemRow, JobControl, JobStore } from './store.ts';

/** How long a runner's lease lasts without renewal; renewed every third of it. */
export const LEASE_MS = 10_000;
/** How often each replica looks for jobs that need a runner. */
export const POLL_MS = 1_000;
/** Items read from the store at a time. */
const ITEM_PAGE = 500;

export interface JobRunnerOptions {
  audit: AuditStore & { jobs: JobStore };
  connections: () => Connections;
  log: Logger;
  metrics?: Metrics;
  /** This replica's name in leases. */
  owner: string;
  /** SQLite serves one process: a RUNNING job found at start-up is this process's own, left by a crash. */
  singleProcess: boolean;
  leaseMs?: number;
  pollMs?: number;
}

export interface JobRunner extends JobControl {
  close(): Promise<void>;
}

/** An item with its place in the job. */
interface JobItem extends ApiKeyUpdateInput {
  seq: number;
  state: ItemRow['state'];
}

export function createJobRunner(options: JobRunnerOptions): JobRunner {
  const { audit, log, owner } = options;
  const store = audit.jobs;
  const leaseMs = options.leaseMs ?? LEASE_MS;
  const running = new Map<string, { stop: AbortController; cancel: boolean; done: Promise<void> }>();
  let firstPoll = true;
  let closed = false;
  let polling: Promise<void> | undefined;

  const poll = async () => {
    if (closed) return;
    try {
      const ids = await store.runnable(Date.now(), firstPoll && options.singleProcess);
      const force = firstPoll && options.singleProcess;
      firstPoll = false;
      for (const id of ids) {
        if (running.has(id) || closed) continue;
        const now = Date.now();
        const lease = await store.lease(id, owner, now, now + leaseMs, force);
        if (!lease.held) continue;
        const stop = new AbortController();
        const entry = { stop, cancel: lease.cancelRequested, done: Promise.resolve() };
        running.set(id, entry);
        entry.done = runJob(id, entry)
          .catch((err: unknown) => log.error({ jobId: id, err: (err as Error).message }, 'bulk update job runner failed; another poll resumes it'))
          .finally(() => running.delete(id));
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not look for bulk update jobs');
    }
  };
  const kick = () => {
    polling ??= poll().finally(() => (polling = undefined));
  };
  const timer = setInterval(kick, options.pollMs ?? POLL_MS);
  timer.unref();
  kick();

  async function runJob(id: string, entry: { stop: AbortController; cancel: boolean }): Promise<void> {
    const job = await store.get(id);
    if (!job) return;
    await store.setState(id, 'RUNNING', { startedAt: Date.now() });
    log.info({ jobId: id, total: job.total }, 'bulk update job running');
    // Renew the lease; losing it stops this run (another replica resumes the job).
    const renew = setInterval(() => {
      const now = Date.now();
      store
        .lease(id, owner, now, now + leaseMs, false)
        .then((l) => {
          if (!l.held) entry.stop.abort();
          if (l.cancelRequested) entry.cancel = true;
        })
        .catch(() => undefined);
    }, leaseMs / 3);
    renew.unref();
    try {
      const ctx = jobContext(job.caller, job.scopes, id, entry.stop.signal);
      const hooks = {
        before: async (u: JobItem): Promise<ApiKeyUpdateResult | undefined> => {
          if (entry.stop.signal.aborted) throw new StoppedError();
          if (entry.cancel) return { provider: u.provider, id: u.id, apiKey: null, error: null };
          if (u.state === 'PENDING') {
            const applied = await alreadyApplied(ctx, u).catch(() => undefined);
            if (applied) return applied;
          }
          await store.setItem(id, u.seq, 'PENDING', null);
          return undefined;
        },
        after: async (u: JobItem, result: ApiKeyUpdateResult) => {
          const state = entry.cancel && !result.apiKey && !result.error ? 'CANCELLED' : result.error ? 'FAILED' : 'SUCCEEDED';
          // A finished item needs its id no more: where the id is a live key, the row keeps its fingerprint.
          if (!idIsSecret(ctx.connections.get(u.provider))) return store.setItem(id, u.seq, state, result);
          const kept = fingerprintKeyId(u.id);
          await store.setItem(id, u.seq, state, JSON.parse(JSON.stringify(result).split(JSON.stringify(u.id).slice(1, -1)).join(kept)), kept);
        },
      };
      for (let after = -1; ; ) {
        const rows = await store.items(id, ITEM_PAGE, after, true);
        if (rows.length === 0) break;
        after = rows[rows.length - 1].seq;
        const items: JobItem[] = rows.map((r) => ({
          seq: r.seq,
          state: r.state,
          provider: r.provider,
          id: r.keyId,
          patch: () => patchFor(r.provider, r.keyId, revive(r.patch)),
        }));
        await runUpdateItems(ctx, items, hooks);
      }
      const final = await store.get(id);
      if (!final) return;
      const state = entry.cancel || final.cancelRequested ? 'CANCELLED' : final.failed > 0 ? 'FAILED' : 'SUCCEEDED';
      await store.setState(id, state, { finishedAt: Date.now() }, owner);
      log.info({ jobId: id, state, done: final.done, failed: final.failed }, 'bulk update job finished');
    } catch (err) {
      if (!(err instanceof StoppedError)) throw err;
      // Give the lease back (if still ours), so another replica need not wait for it to lapse.
      await store.setState(id, 'RUNNING', {}, owner).catch(() => undefined);
      log.warn({ jobId: id }, 'bulk update job stopped here (lease lost or shutting down); it resumes from its stored items');
    } finally {
      clearInterval(renew);
    }
  }

  /** The context a job's items run in: the starter's name and scopes (an item it may not write fails FORBIDDEN). */
  function jobContext(callerName: string, scopes: string[], id: string, signal: AbortSignal): OperationContext {
    const caller: Caller = { name: callerName, via: 'token', scopes: scopes.map((s) => parseScope(s)).filter((s) => s !== undefined) };
    return withLoaders<OperationContext>({
      caller,
      audit,
      connections: options.connections(),
      log: log.child({ jobId: id, caller: callerName }),
      requestId: `job:${id}`,
      metrics: options.metrics,
      signal,
    });
  }

  return {
    kick,
    cancelled(id) {
      const entry = running.get(id);
      if (entry) entry.cancel = true;
    },
    async close() {
      closed = true;
      clearInterval(timer);
      for (const entry of running.values()) entry.stop.abort();
      await Promise.allSettled([...running.values()].map((e) => e.done));
      await polling;
    },
  };
}

class StoppedError extends Error {}

/** A stored GraphQL patch input: the DateTime it held comes back as a string. */
function revive(patch: unknown): never {
  const p = { ...(patch as Record<string, unknown>) };
  if (typeof p.expiresAt === 'string') p.expiresAt = new Date(p.expiresAt);
  return p as never;
}

/**
 * For a PENDING item: reads the key, and when every field of the patch is already as asked,
 * returns the item's result without sending it again; undefined when it must be sent.
 */
async function alreadyApplied(ctx: OperationContext, u: JobItem): Promise<ApiKeyUpdateResult | undefined> {
  const connection = ctx.connections.get(u.provider);
  if (!connection || !(connection.adapter.readKey || connection.adapter.readByListing)) return undefined;
  let patch: ApiKeyPatch;
  try {
    patch = typeof u.patch === 'function' ? u.patch() : u.patch;
  } catch (err) {
    if (err instanceof GatewayError) return errorResult(u.provider, u.id, err);
    throw err;
  }
  // A fresh read, not one the job's loader remembers.
  const fresh = createLoaders(ctx).keys(connection);
  const loaded = await connection.resilience.execute(() => fresh.load(u.id), ctx.signal);
  if (!loaded.found || !patchApplied(loaded.key, patch)) return undefined;
  ctx.log.info({ provider: u.provider, keyId: u.id }, 'bulk job item found already applied after a restart; not sent again');
  return { provider: u.provider, id: u.id, apiKey: loaded.key, error: null };
}

/** Whether `key` already shows every field `patch` sets (false for what cannot be compared: a vendor's own fields). */
export function patchApplied(key: NormalizedKey, patch: ApiKeyPatch): boolean {
  if (VENDOR_PATCH_FIELDS.some((f) => patch[f])) return false;
  if (patch.name != null && key.name !== patch.name) return false;
  if (patch.enabled != null && key.enabled !== patch.enabled) return false;
  if (patch.roles != null && (key.roles === null || [...key.roles].sort().join('\n') !== [...patch.roles].sort().join('\n'))) return false;
  if (patch.expiresAt != null && key.expiresAt?.getTime() !== patch.expiresAt.getTime()) return false;
  const tags = new Map((key.tags ?? []).map((t) => [t.key.toLowerCase(), t.value]));
  for (const t of patch.setTags ?? []) if (!tags.has(t.key.toLowerCase()) || (t.value !== null && tags.get(t.key.toLowerCase()) !== t.value)) return false;
  for (const k of patch.removeTags ?? []) if (tags.has(k.toLowerCase())) return false;
  return true;
}
