/**
 * `auditLog`: pages of the audit log, newest first, for callers holding `audit:read`. A caller
 * whose `audit:read` is narrowed to some providers sees only their entries.
 */
import type { AuditEntry, AuditFilter, AuditPage } from '../audit/model.ts';
import { authorize, providersCovered } from '../auth/scopes.ts';
import { auditUnavailableError, GatewayError, inputError } from '../core/errors.ts';
import type { OperationContext } from '../core/context.ts';
import { keptKeyIdForms } from '../core/key-ids.ts';

export const MAX_AUDIT_PAGE = 200;

export type AuditLogFilter = Omit<AuditFilter, 'visibleProviders' | 'keyIdForms'>;

export interface AuditLogPage {
  edges: { cursor: string; node: AuditEntry }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

export async function readAuditLog(ctx: OperationContext, filter: AuditLogFilter, first: number, after: string | null | undefined): Promise<AuditLogPage> {
  authorize(ctx.caller, 'audit:read', filter.provider);
  if (!ctx.audit) throw new GatewayError('auditLog: the audit log is off in this configuration (audit: false)', { code: 'UNSUPPORTED_OPERATION' });
  if (!Number.isInteger(first) || first < 1 || first > MAX_AUDIT_PAGE)
    throw new GatewayError(`auditLog: first must be between 1 and ${MAX_AUDIT_PAGE} (got ${first})`, { code: 'BAD_USER_INPUT', details: { field: 'first' } });
  const before = after ? decodeCursor(after) : undefined;
  const covered = providersCovered(ctx.caller, 'audit:read');
  // A Tyk key id is kept as its fingerprint: the caller's raw id finds it.
  const scoped = filter.provider === undefined ? ctx.connections.list() : [ctx.connections.get(filter.provider)].filter((c) => c !== undefined);
  const keyIdForms = filter.keyId === undefined ? undefined : keptKeyIdForms(scoped, filter.keyId);
  let page: AuditPage;
  try {
    page = await ctx.audit.query({ ...filter, ...(keyIdForms && { keyIdForms }), ...(covered !== '*' && { visibleProviders: [...covered] }) }, first, before);
  } catch (err) {
    ctx.log.error({ err: { name: (err as Error).name, message: (err as Error).message } }, 'audit log read failed');
    throw auditUnavailableError(undefined, undefined);
  }
  const edges = page.entries.map((node) => ({ cursor: encodeCursor(node.id), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: after != null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

function encodeCursor(id: string): string {
  return Buffer.from(`audit:${id}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const m = /^audit:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw inputError('auditLog', 'after is not a cursor auditLog issued', 'after');
  return Number(m[1]);
}
