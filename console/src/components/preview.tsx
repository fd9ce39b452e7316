import type { KeyFieldsFragment, PreviewUpdateQuery } from '../gql/graphql.ts';
import { formatDate, formatEnabled, formatTags, Json } from './common.tsx';

type Preview = PreviewUpdateQuery['previewApiKeyUpdate'];
/** Bodies longer than this (Tyk's whole session) start folded. */
const BODY_SHOWN = 600;

const ROWS: [string, (k: KeyFieldsFragment) => string][] = [
  ['Name', (k) => k.name ?? '—'],
  ['Enabled', (k) => formatEnabled(k.enabled)],
  ['Roles', (k) => (k.roles?.length ? k.roles.join(', ') : '—')],
  ['Tags', (k) => formatTags(k.tags)],
  ['Expires', (k) => formatDate(k.expiresAt)],
];

/** What an update would send (method, URL, headers, body) and the key before and after. */
export function PreviewView({ preview }: { preview: Preview }) {
  const { before, after } = preview;
  return (
    <section className="preview" aria-labelledby="preview-title">
      <h3 id="preview-title">Review: what keygate would send</h3>
      {after && (
        <table className="diff">
          <caption>Before and after</caption>
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Before</th>
              <th scope="col">After</th>
            </tr>
          </thead>
          <tbody>
            {ROWS.map(([label, get]) => {
              const b = before ? get(before) : 'unknown (not readable)';
              const a = get(after);
              const changed = b !== a;
              return (
                <tr key={label} className={changed ? 'changed' : undefined}>
                  <th scope="row">
                    {label}
                    {changed && <span className="sr-only"> (changed)</span>}
                  </th>
                  <td>{b}</td>
                  <td>{a}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {preview.requests.map((r, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: the plan is an ordered list replaced whole; a request's position (request 1, 2…) is its identity, and two requests may be alike.
        <div key={i} className="planned">
          <p>
            <code className="method">{r.method}</code> <code className="url">{r.url}</code>
          </p>
          <details>
            <summary>Headers</summary>
            <Json value={r.headers} label={`headers of request ${i + 1}`} />
          </details>
          {r.body !== null && r.body !== undefined && (
            <details open={JSON.stringify(r.body).length <= BODY_SHOWN}>
              <summary>Body</summary>
              <Json value={r.body} label={`body of request ${i + 1}`} />
            </details>
          )}
        </div>
      ))}
    </section>
  );
}
