/**
 * Reads: one key (`apiKey`, through the request's DataLoader) and a page of a vendor's keys
 * (`apiKeys`, with opaque cursors that survive the vendors' different paging schemes).
 */
import { runOperation } from '../core/run-operation.ts';
import { authorize } from '../auth/scopes.ts';
import { badResponseError, inputError } from '../core/errors.ts';
import { unsupported } from '../core/loaders.ts';
import { call, connectionFor, toApiKey } from '../core/call.ts';
import { checkId } from '../core/checks.ts';
import type { ApiKey, OperationContext } from '../core/context.ts';
import type { Connection } from '../core/connections.ts';
import { cacheKey } from '../core/read-cache.ts';

export const MAX_PAGE_SIZE = 100;

/** One key, or null when the vendor says it does not exist. */
export function readApiKey(ctx: OperationContext, provider: string, id: string): Promise<ApiKey | null> {
  return runOperation(ctx, { operation: 'read', provider, keyId: id, audited: false }, () => read(ctx, provider, id));
}

async function read(ctx: OperationContext, provider: string, id: string): Promise<ApiKey | null> {
  authorize(ctx.caller, 'keys:read', provider);
  const connection = connectionFor(ctx, provider);
  checkId(provider, id);
  if (!connection.adapter.readKey && !connection.adapter.readByListing) throw unsupported(connection, 'read');
  const load = async () => {
    const loaded = await connection.resilience.execute(() => ctx.loaders.keys(connection).load(id), ctx.signal);
    return loaded.found ? { ...loaded.key, provider } : null;
  };
  return connection.readCache ? connection.readCache.through(cacheKey.key(id), load) : load();
}

export interface ApiKeyPage {
  edges: { cursor: string; node: ApiKey }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** Where a listing stands: the vendor page token and how many keys of that page were already given. */
interface Position {
  provider: string;
  page: string | undefined;
  skip: number;
}

/**
 * A page of `first` keys after `after`. Vendors page differently (Mesa cursors, Atlas page numbers,
 * Tyk fixed-size pages), so a cursor records the vendor page and an offset into it.
 */
export function listApiKeys(ctx: OperationContext, provider: string, first: number, after: string | null | undefined): Promise<ApiKeyPage> {
  return runOperation(ctx, { operation: 'list', provider, keyId: null, audited: false }, () => list(ctx, provider, first, after));
}

async function list(ctx: OperationContext, provider: string, first: number, after: string | null | undefined): Promise<ApiKeyPage> {
  authorize(ctx.caller, 'keys:read', provider);
  const connection = connectionFor(ctx, provider);
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE)
    throw inputError(provider, `first must be between 1 and ${MAX_PAGE_SIZE} (got ${first})`, 'first');
  const { adapter } = connection;
  if (!adapter.listPage || !adapter.parseListPage) throw unsupported(connection, 'list');
  const start: Position = after ? decodeCursor(provider, after) : { provider, page: undefined, skip: 0 };
  const load = () => listFrom(ctx, connection, provider, first, after, start);
  return connection.readCache ? connection.readCache.through(cacheKey.page(first, after), load) : load();
}

async function listFrom(
  ctx: OperationContext,
  connection: Connection,
  provider: string,
  first: number,
  after: string | null | undefined,
  start: Position,
): Promise<ApiKeyPage> {
  const { adapter, settings } = connection;
  let at = start;

  const edges: ApiKeyPage['edges'] = [];
  let hasNextPage = false;
  for (;;) {
    const page = at.page;
    const res = await connection.resilience.execute(() => call(ctx, connection, provider, '(list)', adapter.listPage!(settings, page)), ctx.signal);
    const parsed = adapter.parseListPage!(res.json, page, settings);
    if (!parsed) throw badResponseError(provider, '(list)', res.status, 'a key list it does not document');
    const rest = parsed.keys.slice(at.skip);
    const take = rest.slice(0, first - edges.length);
    take.forEach((key, i) => {
      const node = toApiKey(connection, provider, key, ctx.connections.secrets);
      edges.push({ cursor: encodeCursor({ provider, page, skip: at.skip + i + 1 }), node });
    });
    if (take.length < rest.length) {
      hasNextPage = true;
      break;
    }
    if (parsed.next === undefined) break;
    at = { provider, page: parsed.next, skip: 0 };
    // This vendor page is used up: the last edge's cursor points at the start of the next one.
    if (take.length > 0) edges[edges.length - 1].cursor = encodeCursor(at);
    if (edges.length === first) {
      // Full, and the vendor has another page: the next request starts there.
      hasNextPage = true;
      break;
    }
  }
  return {
    edges,
    pageInfo: {
      hasNextPage,
      hasPreviousPage: after != null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.provider, position.page ?? null, position.skip])).toString('base64url');
}

function decodeCursor(provider: string, cursor: string): Position {
  try {
    const [p, page, skip] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown, unknown];
    // A forged cursor's page could hold a lone surrogate (JSON `"\ud800"`), which the query string would turn into U+FFFD.
    const pageOk = page === null || (typeof page === 'string' && page.isWellFormed());
    if (p === provider && pageOk && Number.isInteger(skip) && (skip as number) >= 0) return { provider, page: page ?? undefined, skip: skip as number };
  } catch {}
  throw inputError(provider, 'after is not a cursor this provider issued', 'after');
}
