import { useEffect, useState, type FormEvent } from 'react';
import { request, type ApiError } from '../api.ts';
import { Empty, ErrorBox, formatDate, Loading, TableWrap } from '../components/common.tsx';
import { AuditDocument, ConsoleProvidersDocument, type AuditLogFilter, type AuditQuery } from '../gql/graphql.ts';
import { toApiError, useQuery } from '../hooks.ts';
import { Link, navigate, paths } from '../router.tsx';

const FILTERS = ['provider', 'keyId', 'caller', 'outcome', 'since', 'until'] as const;
type FilterForm = Record<(typeof FILTERS)[number], string>;
type Entry = AuditQuery['auditLog']['edges'][number];
const PAGE_SIZE = 50;

/** since/until are typed as UTC date-times (datetime-local) and sent as ISO strings. */
function toFilter(form: FilterForm): AuditLogFilter {
  const filter: AuditLogFilter = {};
  for (const f of FILTERS) {
    const v = form[f].trim();
    if (!v) continue;
    if (f === 'since' || f === 'until') filter[f] = new Date(`${v.length === 16 ? `${v}:00` : v}Z`).toISOString();
    else filter[f] = v;
  }
  return filter;
}

function formOf(params: URLSearchParams): FilterForm {
  return Object.fromEntries(FILTERS.map((f) => [f, params.get(f) ?? ''])) as FilterForm;
}

export function AuditPage({ params }: { params: URLSearchParams }) {
  const fromUrl = formOf(params);
  const [form, setForm] = useState<FilterForm>(fromUrl);
  const urlKey = params.toString();
  // The form follows the URL whenever the URL's filters change (not on every render, which would undo typing).
  useEffect(() => setForm(formOf(new URLSearchParams(urlKey))), [urlKey]);
  const providers = useQuery(ConsoleProvidersDocument, {});
  const first = useQuery(AuditDocument, { filter: toFilter(fromUrl), first: PAGE_SIZE });
  const [older, setOlder] = useState<{ edges: Entry[]; hasNextPage: boolean; endCursor?: string | null }>();
  const [olderError, setOlderError] = useState<ApiError>();
  // Older pages continue one first page: a new first page drops them (React's "adjust state on a prop change").
  const [olderOf, setOlderOf] = useState(first.data);
  if (olderOf !== first.data) {
    setOlderOf(first.data);
    setOlder(undefined);
  }

  const submit = (e: FormEvent) => {
    e.preventDefault();
    navigate(paths.audit(form));
  };
  const entries = [...(first.data?.auditLog.edges ?? []), ...(older?.edges ?? [])];
  const page = older ?? first.data?.auditLog.pageInfo;
  const loadOlder = async () => {
    setOlderError(undefined);
    try {
      const next = await request(AuditDocument, { filter: toFilter(fromUrl), first: PAGE_SIZE, after: page?.endCursor });
      setOlder({ edges: [...(older?.edges ?? []), ...next.auditLog.edges], ...next.auditLog.pageInfo });
    } catch (err) {
      setOlderError(toApiError(err));
    }
  };
  const input = (f: (typeof FILTERS)[number], label: string, type = 'text') => (
    <div className="field">
      <label htmlFor={`audit-${f}`}>{label}</label>
      <input id={`audit-${f}`} type={type} value={form[f]} onChange={(e) => setForm({ ...form, [f]: e.target.value })} />
    </div>
  );

  return (
    <>
      <h1>Audit log</h1>
      <form className="filters" onSubmit={submit} aria-label="Audit filters">
        <div className="field">
          <label htmlFor="audit-provider">Provider</label>
          <select id="audit-provider" value={form.provider} onChange={(e) => setForm({ ...form, provider: e.target.value })}>
            <option value="">any</option>
            {providers.data?.providers.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name}
              </option>
            ))}
          </select>
        </div>
        {input('keyId', 'Key id')}
        {input('caller', 'Caller')}
        {input('outcome', 'Outcome (OK, a code, PENDING)')}
        {input('since', 'Since (UTC)', 'datetime-local')}
        {input('until', 'Until (UTC)', 'datetime-local')}
        <div className="actions">
          <button type="submit" className="primary">
            Filter
          </button>
          <button type="button" onClick={() => navigate(paths.audit())}>
            Clear
          </button>
        </div>
      </form>
      {first.error && <ErrorBox error={first.error} title="Could not read the audit log" />}
      {first.loading && <Loading what="the audit log" />}
      {first.data && entries.length === 0 && <Empty>No audit entry matches these filters.</Empty>}
      {entries.length > 0 && (
        <TableWrap label="Audit entries">
          <table className="audit">
            <caption>{entries.length} entries, newest first</caption>
            <thead>
              <tr>
                <th scope="col">At (UTC)</th>
                <th scope="col">Caller</th>
                <th scope="col">Operation</th>
                <th scope="col">Provider</th>
                <th scope="col">Key</th>
                <th scope="col">Outcome</th>
                <th scope="col">Vendor status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Patch</th>
              </tr>
            </thead>
            <tbody>
              {entries.map(({ node: e }) => (
                <tr key={e.id}>
                  <td>{formatDate(e.at)}</td>
                  <td>{e.caller}</td>
                  <td>{e.operation}</td>
                  <td>{e.provider ?? '—'}</td>
                  <td className="id">
                    {/* A Tyk key id is kept as its fingerprint (`sha256:…`), which names no key to open. */}
                    {e.provider && e.keyId && !e.keyId.startsWith('sha256:') ? <Link to={paths.key(e.provider, e.keyId)}>{e.keyId}</Link> : (e.keyId ?? '—')}
                  </td>
                  <td>
                    <span className={`badge ${e.outcome === 'OK' ? 'state-closed' : e.outcome === 'PENDING' ? 'state-half_open' : 'state-open'}`}>
                      {e.outcome}
                    </span>
                  </td>
                  <td>{e.upstreamStatus ?? '—'}</td>
                  <td>{e.attempts ?? '—'}</td>
                  <td>
                    <code className="small">{e.patch == null ? '—' : JSON.stringify(e.patch)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {olderError && <ErrorBox error={olderError} title="Could not load older entries" />}
      {page?.hasNextPage && (
        <button type="button" onClick={loadOlder}>
          Older entries
        </button>
      )}
    </>
  );
}
