import type { AuditEntry } from '../audit/model.ts';
import { MAX_AUDIT_PAGE, readAuditLog, type AuditLogPage } from './audit-log.ts';
import { builder } from '../graphql/builder.ts';
import { PageInfoRef } from './read-api-keys.fields.ts';

const AuditEntryRef = builder.objectRef<AuditEntry>('AuditEntry').implement({
  description: 'One recorded operation: an update (whatever its outcome, denials and refusals included), a preview, or a refused bulk call.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Increasing with time.' }),
    at: t.expose('at', { type: 'DateTime', description: 'When the outcome was recorded (for PENDING: when the update started).' }),
    caller: t.exposeString('caller', {
      description: 'Who asked, namespaced by source: `token:<name>`, `jwt:<issuer>#<subject>`, or `anonymous@loopback` without `auth`.',
    }),
    requestId: t.exposeString('requestId', { description: 'The gateway request id (x-request-id).' }),
    provider: t.exposeString('provider', { nullable: true, description: 'The provider as the client named it.' }),
    keyId: t.exposeString('keyId', { nullable: true }),
    operation: t.exposeString('operation', { description: 'update, preview or updateApiKeys.' }),
    patch: t.field({ type: 'JSON', nullable: true, description: 'The patch as sent, every credential "[redacted]".', resolve: (e) => e.patch }),
    outcome: t.exposeString('outcome', {
      description:
        'OK, an error code, or PENDING: the update was about to be sent and no outcome was recorded (still running, or the gateway stopped mid-call).',
    }),
    upstreamStatus: t.exposeInt('upstreamStatus', { nullable: true, description: "The vendor's HTTP status, when it answered." }),
    traceId: t.exposeString('traceId', { nullable: true, description: "The vendor's trace id, when it sent one." }),
    attempts: t.exposeInt('attempts', { nullable: true, description: 'Upstream attempts made (retries included).' }),
    durationMs: t.exposeFloat('durationMs', { nullable: true }),
  }),
});

const AuditEntryEdgeRef = builder.objectRef<AuditLogPage['edges'][number]>('AuditEntryEdge').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor', { description: 'Opaque; pass it as `after` for older entries.' }),
    node: t.field({ type: AuditEntryRef, resolve: (e) => e.node }),
  }),
});

const AuditEntryConnectionRef = builder.objectRef<AuditLogPage>('AuditEntryConnection').implement({
  description: 'A page of the audit log, newest first.',
  fields: (t) => ({
    edges: t.field({ type: [AuditEntryEdgeRef], resolve: (c) => c.edges }),
    pageInfo: t.field({ type: PageInfoRef, resolve: (c) => c.pageInfo }),
  }),
});

const AuditLogFilterRef = builder.inputType('AuditLogFilter', {
  description: 'Every field given must match; `since` is inclusive, `until` exclusive.',
  fields: (t) => ({
    provider: t.string(),
    keyId: t.string(),
    caller: t.string({ description: 'A caller name exactly as `AuditEntry.caller` shows it, e.g. `token:admin`.' }),
    outcome: t.string({ description: 'OK, an error code, or PENDING.' }),
    since: t.field({ type: 'DateTime' }),
    until: t.field({ type: 'DateTime' }),
  }),
});

builder.queryField('auditLog', (t) =>
  t.field({
    type: AuditEntryConnectionRef,
    description: `The audit log, newest first (scope audit:read; a narrowed scope shows only its providers). \`first\` is 1..${MAX_AUDIT_PAGE}.`,
    args: {
      filter: t.arg({ type: AuditLogFilterRef }),
      first: t.arg.int({ defaultValue: 50 }),
      after: t.arg.string(),
    },
    resolve: (_root, args, ctx) => {
      const f = args.filter ?? {};
      const filter = Object.fromEntries(Object.entries(f).filter(([, v]) => v !== null && v !== undefined));
      return readAuditLog(ctx, filter, args.first ?? 50, args.after);
    },
  }),
);
