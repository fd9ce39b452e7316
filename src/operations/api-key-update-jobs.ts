/**
 * Bulk update jobs: `startApiKeyUpdateJob` stores up to `limits.maxJobItems` items and returns at
 * once; src/jobs/runner.ts runs them, paced by each provider's budget. Reading or listing jobs
 * needs keys:write or audit:read; starting one needs keys:write (an item whose provider the
 * caller may not write fails FORBIDDEN when it runs, like an `updateApiKeys` item).
 */
import type { ApiKey, OperationContext } from '../core/context.ts';
import { authorize, hasScope } from '../auth/scopes.ts';
import { forbiddenError, GatewayError } from '../core/errors.ts';
import { runOperation, timeOrderedUUID } from '../core/run-operation.ts';
import type { ItemRow, JobRow, Jobs } from '../jobs/store.ts';
import type { ApiKeyError } from './update-api-keys.ts';

export const DEFAULT_MAX_JOB_ITEMS = 10_000;
export const MAX_RESULTS_PAGE = 1000;
export const MAX_JOBS_PAGE = 100;

export interface JobItemResult {
  index: number;
  state: ItemRow['state'];
  provider: string;
  id: string;
  apiKey: ApiKey | null;
  error: ApiKeyError | null;
}

export interface JobItemPage {
  edges: { cursor: string; node: JobItemResult }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

type JobsContext = OperationContext & { jobs?: Jobs };

function jobsOf(ctx: JobsContext): Jobs {
  if (ctx.jobs) return ctx.jobs;
  throw new GatewayError('bulk update jobs need the audit store (they are kept in its database); it is off (`audit: false`)', {
    code: 'UNSUPPORTED_OPERATION',
  });
}

/** keys:write or audit:read, on any provider. */
function authorizeRead(ctx: OperationContext): void {
  if (!hasScope(ctx.caller, 'keys:write') && !hasScope(ctx.caller, 'audit:read')) throw forbiddenError(ctx.caller.name, 'keys:write or audit:read');
}

export async function startApiKeyUpdateJob(
  ctx: JobsContext,
  updates: { provider: string; id: string; patch: unknown }[],
  jobsInRequest: number,
): Promise<JobRow> {
  return runOperation(ctx, { operation: 'startApiKeyUpdateJob', provider: null, keyId: null, audited: true }, async () => {
    authorize(ctx.caller, 'keys:write');
    const jobs = jobsOf(ctx);
    if (jobsInRequest > 1)
      throw new GatewayError(`startApiKeyUpdateJob: one request starts at most one job (this one asks for ${jobsInRequest}); nothing was started`, {
        code: 'BAD_USER_INPUT',
      });
    if (updates.length === 0)
      throw new GatewayError('startApiKeyUpdateJob: `updates` must hold at least one item; nothing was started', {
        code: 'BAD_USER_INPUT',
        details: { field: 'updates' },
      });
    if (updates.length > jobs.maxJobItems)
      throw new GatewayError(`limits.maxJobItems: a job holds at most ${jobs.maxJobItems} items (got ${updates.length}); nothing was started`, {
        code: 'BAD_USER_INPUT',
        details: { field: 'updates', limit: 'maxJobItems', max: jobs.maxJobItems, count: updates.length },
      });
    const id = timeOrderedUUID();
    const scopes = ctx.caller.scopes.map((s) => `${s.action}:${s.provider}`);
    await jobs.store.create(
      { id, caller: ctx.caller.name, scopes, requestId: ctx.requestId ?? id, createdAt: new Date() },
      updates.map((u) => ({ provider: u.provider, keyId: u.id, patch: u.patch, state: 'QUEUED', result: null })),
    );
    jobs.runner.kick();
    ctx.log.info({ jobId: id, total: updates.length }, 'bulk update job started');
    return (await jobs.store.get(id))!;
  });
}

export async function apiKeyUpdateJob(ctx: JobsContext, id: string): Promise<JobRow | null> {
  authorizeRead(ctx);
  return (await jobsOf(ctx).store.get(id)) ?? null;
}

export async function apiKeyUpdateJobs(ctx: JobsContext, first: number, after: string | undefined): Promise<{ jobs: JobRow[]; hasNextPage: boolean }> {
  authorizeRead(ctx);
  if (!Number.isInteger(first) || first < 1 || first > MAX_JOBS_PAGE)
    throw new GatewayError(`apiKeyUpdateJobs: \`first\` must be 1..${MAX_JOBS_PAGE} (got ${first})`, { code: 'BAD_USER_INPUT', details: { field: 'first' } });
  return jobsOf(ctx).store.list(first, after);
}

export async function cancelApiKeyUpdateJob(ctx: JobsContext, id: string): Promise<JobRow> {
  authorize(ctx.caller, 'keys:write');
  const jobs = jobsOf(ctx);
  const job = await jobs.store.get(id);
  if (!job) throw new GatewayError(`cancelApiKeyUpdateJob: no job "${id}"`, { code: 'NOT_FOUND' });
  if (await jobs.store.requestCancel(id)) {
    jobs.runner.cancelled(id);
    jobs.runner.kick();
    ctx.log.info({ jobId: id }, 'bulk update job cancel asked for');
  }
  return (await jobs.store.get(id))!;
}

export async function jobResults(ctx: JobsContext, job: JobRow, first: number, after: string | undefined): Promise<JobItemPage> {
  if (!Number.isInteger(first) || first < 1 || first > MAX_RESULTS_PAGE)
    throw new GatewayError(`ApiKeyUpdateJob.results: \`first\` must be 1..${MAX_RESULTS_PAGE} (got ${first})`, {
      code: 'BAD_USER_INPUT',
      details: { field: 'first' },
    });
  const afterSeq = after === undefined ? -1 : Number(after);
  if (!Number.isInteger(afterSeq) || afterSeq < -1)
    throw new GatewayError('ApiKeyUpdateJob.results: `after` must be a cursor from an earlier page', { code: 'BAD_USER_INPUT', details: { field: 'after' } });
  const rows = await jobsOf(ctx).store.items(job.id, first + 1, afterSeq);
  const edges = rows.slice(0, first).map((r) => ({ cursor: String(r.seq), node: toResult(r) }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > first,
      hasPreviousPage: afterSeq >= 0,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

function toResult(r: ItemRow): JobItemResult {
  const result = r.result as {
    apiKey: (ApiKey & { expiresAt: string | null; updatedAt: string | null; fetchedAt?: string }) | null;
    error: ApiKeyError | null;
  } | null;
  const key = result?.apiKey;
  return {
    index: r.seq,
    state: r.state,
    provider: r.provider,
    id: r.keyId,
    apiKey: key
      ? {
          ...key,
          expiresAt: key.expiresAt ? new Date(key.expiresAt) : null,
          updatedAt: key.updatedAt ? new Date(key.updatedAt) : null,
          fetchedAt: key.fetchedAt ? new Date(key.fetchedAt) : undefined,
        }
      : null,
    error: result?.error ?? null,
  };
}
