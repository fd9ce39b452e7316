import { useEffect, useState, type FormEvent } from 'react';
import { request, type ApiError } from '../api.ts';
import { Empty, ErrorBox, formatDate, formatEnabled, formatTags, Loading, TableWrap } from '../components/common.tsx';
import { ConsoleProvidersDocument, KeyPageDocument, type KeyFieldsFragment } from '../gql/graphql.ts';
import { toApiError, useQuery } from '../hooks.ts';
import { Link, navigate, paths } from '../router.tsx';
import { useConsole } from '../viewer.ts';

const PAGE_SIZE = 50;

export function KeysPage({ provider }: { provider: string }) {
  const providers = useQuery(ConsoleProvidersDocument, {});
  const info = providers.data?.providers.find((p) => p.name === provider);
  return (
    <>
      <p className="crumbs">
        <Link to={paths.providers()}>Providers</Link> / {provider}
      </p>
      <h1>Keys at {provider}</h1>
      {providers.error && <ErrorBox error={providers.error} title="Could not load the providers" />}
      {providers.loading && <Loading what="the provider" />}
      {providers.data && !info && <Empty>No provider connection named “{provider}” is visible to you.</Empty>}
      {info && (
        <>
          <p className="muted">
            {info.kind.toLowerCase()} · offers {info.operations.join(', ')}
          </p>
          <LookUp provider={provider} canRead={info.operations.includes('read')} />
          {info.operations.includes('list') ? (
            <KeyTable provider={provider} />
          ) : (
            <Empty>
              {info.kind.toLowerCase()} has no list endpoint: open a key by its id above
              {info.operations.includes('read') ? '.' : ' (it cannot be read either, but it can be changed by id).'}
            </Empty>
          )}
        </>
      )}
    </>
  );
}

/** Key ids keygate suggests per provider (the sandbox's demo keys; empty elsewhere), fetched once. */
let keyHints: Promise<Record<string, string[]>> | undefined;
function useKeyHints(provider: string): string[] {
  const [ids, setIds] = useState<string[]>([]);
  useEffect(() => {
    let live = true;
    keyHints ??= fetch('/console/key-hints.json').then(
      (r) => (r.ok ? (r.json() as Promise<Record<string, string[]>>) : {}),
      () => ({}),
    );
    void keyHints.then((all) => live && setIds(Array.isArray(all[provider]) ? all[provider] : []));
    return () => {
      live = false;
    };
  }, [provider]);
  return ids;
}

function LookUp({ provider, canRead }: { provider: string; canRead: boolean }) {
  const [id, setId] = useState('');
  const hints = useKeyHints(provider);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (id.trim()) navigate(paths.key(provider, id.trim()));
  };
  return (
    <search aria-label="Look up a key by id">
      <form className="inline lookup" onSubmit={submit}>
        <label htmlFor="lookup-id">{canRead ? 'Look up by id' : 'Open by id'}</label>
        <input id="lookup-id" type="text" value={id} onChange={(e) => setId(e.target.value)} autoComplete="off" spellCheck={false} />
        <button type="submit" disabled={!id.trim()}>
          Open
        </button>
        {hints.length > 0 && (
          <span className="muted">
            Demo keys:{' '}
            {hints.map((h, i) => (
              <span key={h}>
                {i > 0 && ', '}
                <Link to={paths.key(provider, h)} className="id">
                  {h}
                </Link>
              </span>
            ))}
          </span>
        )}
      </form>
    </search>
  );
}

function KeyTable({ provider }: { provider: string }) {
  const { can, isSelected, toggle } = useConsole();
  const first = useQuery(KeyPageDocument, { provider, first: PAGE_SIZE });
  const [more, setMore] = useState<{ keys: KeyFieldsFragment[]; endCursor?: string | null; hasNextPage: boolean }>();
  const [moreError, setMoreError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const [filter, setFilter] = useState('');
  // More pages continue one first page: a new first page drops them (React's "adjust state on a prop change").
  const [moreOf, setMoreOf] = useState(first.data);
  if (moreOf !== first.data) {
    setMoreOf(first.data);
    setMore(undefined);
  }

  if (first.error) return <ErrorBox error={first.error} title="Could not list the keys" />;
  if (!first.data) return <Loading what="keys" />;
  const keys = [...first.data.apiKeys.edges.map((e) => e.node), ...(more?.keys ?? [])];
  const page = more ?? first.data.apiKeys.pageInfo;
  const loadMore = async () => {
    setBusy(true);
    setMoreError(undefined);
    try {
      const next = await request(KeyPageDocument, { provider, first: PAGE_SIZE, after: page.endCursor });
      setMore({ keys: [...(more?.keys ?? []), ...next.apiKeys.edges.map((e) => e.node)], ...next.apiKeys.pageInfo });
    } catch (err) {
      setMoreError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };
  const needle = filter.trim().toLowerCase();
  const shown = needle ? keys.filter((k) => [k.id, k.name ?? '', ...(k.roles ?? []), formatTags(k.tags)].some((s) => s.toLowerCase().includes(needle))) : keys;
  const writable = can('keys:write', provider);
  const auditable = can('audit:read', provider);
  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">Keys</h2>
      <div className="inline">
        <label htmlFor="key-filter">Filter loaded keys</label>
        <input id="key-filter" type="search" value={filter} onChange={(e) => setFilter(e.target.value)} />
        <span className="muted" role="status">
          {shown.length} of {keys.length} shown
        </span>
      </div>
      {keys.length === 0 ? (
        <Empty>{provider} has no keys.</Empty>
      ) : shown.length === 0 ? (
        <Empty>No loaded key matches “{filter}”.</Empty>
      ) : (
        <TableWrap label={`Keys at ${provider}`}>
          <table className="keys">
            <thead>
              <tr>
                {writable && <th scope="col">Bulk</th>}
                <th scope="col">Id</th>
                <th scope="col">Name</th>
                <th scope="col">Enabled</th>
                <th scope="col">Roles</th>
                <th scope="col">Tags</th>
                <th scope="col">Expires</th>
                <th scope="col">Updated</th>
                {auditable && <th scope="col">History</th>}
              </tr>
            </thead>
            <tbody>
              {shown.map((k) => (
                <tr key={k.id}>
                  {writable && (
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`Select ${k.id} for bulk`}
                        checked={isSelected(provider, k.id)}
                        onChange={() => toggle({ provider, id: k.id, name: k.name })}
                      />
                    </td>
                  )}
                  <td className="id">
                    <Link to={paths.key(provider, k.id)}>{k.id}</Link>
                  </td>
                  <td>{k.name ?? '—'}</td>
                  <td>{formatEnabled(k.enabled)}</td>
                  <td>{k.roles?.length ? k.roles.join(', ') : '—'}</td>
                  <td>{formatTags(k.tags)}</td>
                  <td>{formatDate(k.expiresAt)}</td>
                  <td>{formatDate(k.updatedAt)}</td>
                  {auditable && (
                    <td>
                      <Link to={paths.audit({ provider, keyId: k.id })} aria-label={`History of ${k.id}`}>
                        history
                      </Link>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {moreError && <ErrorBox error={moreError} title="Could not load more keys" />}
      {page.hasNextPage && (
        <button type="button" onClick={loadMore} disabled={busy}>
          {busy ? 'Loading…' : 'Load more'}
        </button>
      )}
    </section>
  );
}
