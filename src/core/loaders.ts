/**
 * Per-request DataLoaders, one per provider connection: reads of one (provider, id) within an
 * operation reach the vendor once, several Mesa ids share one walk of Mesa's list, Tyk's
 * pre-update read is served from here, and every update primes the loader with the new value.
 *
 * Created in the GraphQL context for each request; never module-global.
 */
import DataLoader from 'dataloader';
import type { Connection } from './connections.ts';
import { badResponseError, GatewayError } from './errors.ts';
import { call, toApiKey } from './call.ts';
import type { KeyLoader, LoadedKey, Loaders, OperationContext } from './context.ts';

export type { KeyLoader, LoadedKey, Loaders } from './context.ts';

/** A list walk for a read gives up after this many pages (a cursor that never ends). */
const MAX_LIST_PAGES = 1000;

/** A request's or a job's context, completed with its own loaders. */
export function withLoaders<C extends OperationContext>(ctx: Omit<C, 'loaders'>): C {
  const full = ctx as C;
  full.loaders = createLoaders(full);
  return full;
}

export function createLoaders(ctx: OperationContext): Loaders {
  const byConnection = new Map<string, KeyLoader>();
  return {
    keys(connection) {
      let loader = byConnection.get(connection.name);
      if (!loader) {
        loader = createKeyLoader(ctx, connection);
        byConnection.set(connection.name, loader);
      }
      return loader;
    },
  };
}

function createKeyLoader(ctx: OperationContext, connection: Connection): KeyLoader {
  const { adapter } = connection;
  const batch = async (ids: readonly string[]): Promise<(LoadedKey | Error)[]> => {
    if (adapter.readKey) return Promise.all(ids.map((id) => readOne(ctx, connection, id).catch((err: Error) => err)));
    if (adapter.readByListing) return findInList(ctx, connection, ids);
    const error = unsupported(connection, 'read');
    return ids.map(() => error);
  };
  const loader = new DataLoader<string, LoadedKey>(batch);
  return {
    async load(id) {
      try {
        return await loader.load(id);
      } catch (err) {
        loader.clear(id);
        throw err;
      }
    },
    prime: (id, value) => void loader.clear(id).prime(id, value),
    clear: (id) => void loader.clear(id),
  };
}

export function unsupported(connection: Connection, operation: string): GatewayError {
  return new GatewayError(`${connection.name}: ${connection.kind} has no ${operation} endpoint; supported operations are listed in Provider.operations`, {
    code: 'UNSUPPORTED_OPERATION',
    provider: connection.name,
  });
}

async function readOne(ctx: OperationContext, connection: Connection, id: string): Promise<LoadedKey> {
  const { adapter, settings } = connection;
  try {
    const res = await call(ctx, connection, connection.name, id, adapter.readKey!(settings, id));
    const key = adapter.parseKey?.(res.json, id, settings);
    const current = adapter.parseCurrent ? adapter.parseCurrent(res.json, settings) : undefined;
    if (!key || (adapter.parseCurrent && current === undefined)) throw badResponseError(connection.name, id, res.status, 'a key body it does not document');
    return { found: true, key: toApiKey(connection, connection.name, key, ctx.connections.secrets), current };
  } catch (err) {
    if (err instanceof GatewayError && err.code === 'NOT_FOUND') return { found: false, error: err };
    throw err;
  }
}

/** Mesa: one walk of the list serves every id asked for in this batch. */
async function findInList(ctx: OperationContext, connection: Connection, ids: readonly string[]): Promise<(LoadedKey | Error)[]> {
  const { adapter, settings } = connection;
  const wanted = new Set(ids);
  const found = new Map<string, LoadedKey>();
  try {
    let page: string | undefined;
    for (let n = 0; n < MAX_LIST_PAGES; n++) {
      const res = await call(ctx, connection, connection.name, ids[0], adapter.listPage!(settings, page));
      const parsed = adapter.parseListPage!(res.json, page, settings);
      if (!parsed) throw badResponseError(connection.name, ids[0], res.status, 'a key list it does not document');
      for (const key of parsed.keys)
        if (wanted.has(key.id)) found.set(key.id, { found: true, key: toApiKey(connection, connection.name, key, ctx.connections.secrets) });
      if (found.size === wanted.size || parsed.next === undefined) break;
      page = parsed.next;
    }
  } catch (err) {
    return ids.map(() => err as Error);
  }
  return ids.map(
    (id) =>
      found.get(id) ?? {
        found: false,
        error: new GatewayError(`${connection.name}: key "${id}": the vendor has no such key (not in its key list)`, {
          code: 'NOT_FOUND',
          provider: connection.name,
        }),
      },
  );
}
