import { Kind, type GraphQLResolveInfo } from 'graphql';
import { ApiKeyRef } from '../graphql/api-key.ts';
import { builder } from '../graphql/builder.ts';
import type { JobRow } from '../jobs/store.ts';
import {
  apiKeyUpdateJob,
  apiKeyUpdateJobs,
  cancelApiKeyUpdateJob,
  jobResults,
  MAX_JOBS_PAGE,
  MAX_RESULTS_PAGE,
  startApiKeyUpdateJob,
  type JobItemPage,
  type JobItemResult,
} from './api-key-update-jobs.ts';
import { PageInfoRef } from './read-api-keys.fields.ts';
import { ApiKeyErrorRef, ApiKeyUpdateInputRef } from './update-api-keys.fields.ts';

const JobStateRef = builder.enumType('ApiKeyUpdateJobState', {
  values: ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const,
  description: 'SUCCEEDED: every item applied; FAILED: it ran to the end and some items failed; CANCELLED: cancelled before every item ran.',
});

const ItemStateRef = builder.enumType('ApiKeyUpdateJobItemState', {
  values: ['QUEUED', 'PENDING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const,
  description: 'PENDING: sent, outcome not yet known (after a crash it is read back or sent again, never blindly repeated).',
});

const ProgressRef = builder.objectRef<JobRow>('ApiKeyUpdateJobProgress').implement({
  fields: (t) => ({
    total: t.exposeInt('total'),
    done: t.exposeInt('done', { description: 'Items applied.' }),
    failed: t.exposeInt('failed', { description: 'Items that failed (their `error` says why).' }),
    cancelled: t.exposeInt('cancelled', { description: 'Items not run because the job was cancelled.' }),
  }),
});

const ItemRef = builder.objectRef<JobItemResult>('ApiKeyUpdateJobItem').implement({
  description: 'One item of a job, in input order: the same shape as an `updateApiKeys` result, plus its place and state.',
  fields: (t) => ({
    index: t.exposeInt('index', { description: 'Its place in `updates`, from 0.' }),
    state: t.field({ type: ItemStateRef, resolve: (r) => r.state }),
    provider: t.exposeString('provider'),
    id: t.exposeID('id'),
    apiKey: t.field({ type: ApiKeyRef, nullable: true, resolve: (r) => r.apiKey }),
    error: t.field({ type: ApiKeyErrorRef, nullable: true, resolve: (r) => r.error }),
  }),
});

const ItemEdgeRef = builder.objectRef<JobItemPage['edges'][number]>('ApiKeyUpdateJobItemEdge').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor', { description: 'Opaque; pass it as `after` to continue after this item.' }),
    node: t.field({ type: ItemRef, resolve: (e) => e.node }),
  }),
});

const ItemConnectionRef = builder.objectRef<JobItemPage>('ApiKeyUpdateJobItemConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [ItemEdgeRef], resolve: (c) => c.edges }),
    pageInfo: t.field({ type: PageInfoRef, resolve: (c) => c.pageInfo }),
  }),
});

const JobRef = builder.objectRef<JobRow>('ApiKeyUpdateJob').implement({
  description: 'A bulk update job (docs/bulk-and-rate-limits.md): durable, paced at each provider’s budget.',
  fields: (t) => ({
    id: t.exposeID('id'),
    state: t.field({ type: JobStateRef, resolve: (j) => j.state }),
    caller: t.exposeString('caller', { description: 'Who started it.' }),
    progress: t.field({ type: ProgressRef, resolve: (j) => j }),
    createdAt: t.field({ type: 'DateTime', resolve: (j) => j.createdAt }),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (j) => j.startedAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (j) => j.finishedAt }),
    results: t.field({
      type: ItemConnectionRef,
      description: `Per item, in input order. \`first\` is 1..${MAX_RESULTS_PAGE}.`,
      args: { first: t.arg.int({ defaultValue: 100 }), after: t.arg.string() },
      resolve: (j, args, ctx) => jobResults(ctx, j, args.first ?? 100, args.after ?? undefined),
    }),
  }),
});

const JobEdgeRef = builder.objectRef<{ cursor: string; node: JobRow }>('ApiKeyUpdateJobEdge').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor', { description: 'Opaque; pass it as `after` for older jobs.' }),
    node: t.field({ type: JobRef, resolve: (e) => e.node }),
  }),
});

const JobConnectionRef = builder.objectRef<{ jobs: JobRow[]; hasNextPage: boolean; after?: string }>('ApiKeyUpdateJobConnection').implement({
  description: 'Bulk update jobs, newest first.',
  fields: (t) => ({
    edges: t.field({ type: [JobEdgeRef], resolve: (c) => c.jobs.map((j) => ({ cursor: j.id, node: j })) }),
    pageInfo: t.field({
      type: PageInfoRef,
      resolve: (c) => ({
        hasNextPage: c.hasNextPage,
        hasPreviousPage: c.after !== undefined,
        startCursor: c.jobs[0]?.id ?? null,
        endCursor: c.jobs.at(-1)?.id ?? null,
      }),
    }),
  }),
});

/** startApiKeyUpdateJob fields in the operation as written (one request starts at most one job). */
function jobsAsked(info: GraphQLResolveInfo): number {
  return info.operation.selectionSet.selections.filter((s) => s.kind === Kind.FIELD && s.name.value === 'startApiKeyUpdateJob').length;
}

builder.mutationField('startApiKeyUpdateJob', (t) =>
  t.field({
    type: JobRef,
    description:
      'Starts a durable job of up to `limits.maxJobItems` (10,000) updates and returns at once; items run as `updateApiKeys` items do, paced by each provider’s rate limit. Needs keys:write (an item on a provider the caller may not write fails FORBIDDEN). Its items do not count against `limits.maxUpdatesPerRequest`.',
    args: { updates: t.arg({ type: [ApiKeyUpdateInputRef], required: true }) },
    resolve: (_root, args, ctx, info) =>
      startApiKeyUpdateJob(
        ctx,
        args.updates.map((u) => ({ provider: u.provider, id: String(u.id), patch: u.patch })),
        jobsAsked(info),
      ),
  }),
);

builder.mutationField('cancelApiKeyUpdateJob', (t) =>
  t.field({
    type: JobRef,
    description: 'Cancels a job: items not yet started are not run (CANCELLED); items in flight finish. Needs keys:write.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => cancelApiKeyUpdateJob(ctx, String(args.id)),
  }),
);

builder.queryField('apiKeyUpdateJob', (t) =>
  t.field({
    type: JobRef,
    nullable: true,
    description: 'A bulk update job; null when there is none with this id. Needs keys:write or audit:read.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => apiKeyUpdateJob(ctx, String(args.id)),
  }),
);

builder.queryField('apiKeyUpdateJobs', (t) =>
  t.field({
    type: JobConnectionRef,
    description: `Recent bulk update jobs, newest first. \`first\` is 1..${MAX_JOBS_PAGE}. Needs keys:write or audit:read.`,
    args: { first: t.arg.int({ defaultValue: 20 }), after: t.arg.string() },
    resolve: async (_root, args, ctx) => ({ ...(await apiKeyUpdateJobs(ctx, args.first ?? 20, args.after ?? undefined)), after: args.after ?? undefined }),
  }),
);
