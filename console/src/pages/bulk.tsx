import { useMemo, useState } from 'react';
import { request, type ApiError } from '../api.ts';
import { Empty, ErrorBox, Loading, TableWrap } from '../components/common.tsx';
import { PatchForm, ReviewApply, type PatchResult } from '../components/patch-form.tsx';
import { ApplyBulkDocument, ConsoleProvidersDocument, PreviewUpdateDocument, type ApplyBulkMutation } from '../gql/graphql.ts';
import { toApiError, useQuery } from '../hooks.ts';
import { Link, paths } from '../router.tsx';
import { useConsole, type BulkItem } from '../viewer.ts';

type ItemState =
  | { kind: 'preview'; text: string }
  | { kind: 'error'; error: ApiError }
  | { kind: 'result'; result: ApplyBulkMutation['updateApiKeys'][number] };

const itemKey = (i: BulkItem) => `${i.provider}\u0000${i.id}`;

/** One patch for keys selected across providers: preview every item, then apply with updateApiKeys. */
export function BulkPage() {
  const { selection, toggle, clearSelection } = useConsole();
  const providers = useQuery(ConsoleProvidersDocument, {});
  const [result, setResult] = useState<PatchResult>({});
  const [states, setStates] = useState<Map<string, ItemState>>(new Map());
  const [busy, setBusy] = useState<'review' | 'apply'>();
  const [error, setError] = useState<ApiError>();
  const [reviewed, setReviewed] = useState<string>();
  const patchText = result.patch && JSON.stringify(result.patch) + JSON.stringify(selection);

  const concerned = useMemo(() => {
    const names = new Set(selection.map((s) => s.provider));
    return providers.data?.providers.filter((p) => names.has(p.name)) ?? [];
  }, [providers.data, selection]);
  const fields = useMemo(() => [...new Set(concerned.flatMap((p) => p.patchFields))], [concerned]);
  const notes = useMemo(() => {
    const out: Record<string, string> = {};
    for (const f of fields) {
      const without = concerned.filter((p) => !p.patchFields.includes(f)).map((p) => p.name);
      if (without.length) out[f] = `not supported by ${without.join(', ')}: those items will fail`;
    }
    return out;
  }, [fields, concerned]);

  const review = async () => {
    if (!result.patch) return;
    setBusy('review');
    setError(undefined);
    const next = new Map<string, ItemState>();
    await Promise.all(
      selection.map(async (item) => {
        try {
          const { previewApiKeyUpdate: p } = await request(PreviewUpdateDocument, { provider: item.provider, id: item.id, patch: result.patch! });
          next.set(itemKey(item), { kind: 'preview', text: p.requests.map((r) => `${r.method} ${r.url}`).join(' · ') });
        } catch (err) {
          next.set(itemKey(item), { kind: 'error', error: toApiError(err) });
        }
      }),
    );
    setStates(next);
    setReviewed(patchText);
    setBusy(undefined);
  };
  const apply = async () => {
    if (!result.patch) return;
    setBusy('apply');
    setError(undefined);
    try {
      const { updateApiKeys } = await request(ApplyBulkDocument, { updates: selection.map((s) => ({ provider: s.provider, id: s.id, patch: result.patch! })) });
      setStates(new Map(updateApiKeys.map((r, i) => [itemKey(selection[i]), { kind: 'result', result: r }])));
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <>
      <h1>Bulk update</h1>
      {selection.length === 0 ? (
        <Empty>
          No key selected. Tick keys in a provider’s table (<Link to={paths.providers()}>Providers</Link>), across providers if you like, then come back here.
        </Empty>
      ) : (
        <>
          <TableWrap label="Selected keys">
            <table>
              <caption>{selection.length} selected keys</caption>
              <thead>
                <tr>
                  <th scope="col">Provider</th>
                  <th scope="col">Id</th>
                  <th scope="col">Name</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span className="sr-only">Remove</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {selection.map((item) => {
                  const state = states.get(itemKey(item));
                  return (
                    <tr key={itemKey(item)} data-item={`${item.provider}/${item.id}`}>
                      <td>{item.provider}</td>
                      <td className="id">
                        <Link to={paths.key(item.provider, item.id)}>{item.id}</Link>
                      </td>
                      <td>{item.name ?? '—'}</td>
                      <td className="status">
                        <ItemStatus state={state} />
                      </td>
                      <td>
                        <button type="button" onClick={() => toggle(item)} aria-label={`Remove ${item.id} from the selection`}>
                          ×
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </TableWrap>
          <button type="button" onClick={clearSelection}>
            Clear selection
          </button>
          <section aria-labelledby="bulk-patch" className="editor">
            <h2 id="bulk-patch">One change for every selected key</h2>
            {providers.loading && <Loading what="providers" />}
            {providers.error && <ErrorBox error={providers.error} title="Could not load the providers" />}
            {fields.length > 0 && <PatchForm fields={fields} tagsHaveValues={!concerned.every((p) => p.kind === 'TYK')} onChange={setResult} notes={notes} />}
            <ReviewApply
              result={result}
              busy={busy}
              reviewed={reviewed === patchText}
              labels={{ review: 'Review all', apply: `Apply to ${selection.length}` }}
              onReview={review}
              onApply={apply}
            />
            {error && <ErrorBox error={error} title="keygate refused the bulk update" />}
          </section>
        </>
      )}
    </>
  );
}

function ItemStatus({ state }: { state?: ItemState }) {
  if (!state) return <span className="muted">not reviewed</span>;
  if (state.kind === 'preview') return <code className="small">would send {state.text}</code>;
  const error = state.kind === 'error' ? state.error : state.result.error;
  if (error)
    return (
      <span className="item-error">
        <span className="badge state-open">{error.code}</span> {error.message}
        {'upstream' in error && error.upstream != null && <code className="small"> upstream: {JSON.stringify(error.upstream)}</code>}
      </span>
    );
  return <span className="badge state-closed">updated</span>;
}
