import { ConsoleProvidersDocument } from '../gql/graphql.ts';
import { Empty, ErrorBox, Loading, TableWrap } from '../components/common.tsx';
import { useQuery } from '../hooks.ts';
import { Link, paths } from '../router.tsx';

/** How often the providers' breaker states are refreshed while the page is open. */
const REFRESH_MS = 5_000;

export function ProvidersPage() {
  const { data, error, loading } = useQuery(ConsoleProvidersDocument, {}, { pollMs: REFRESH_MS });
  return (
    <>
      <h1>Providers</h1>
      <p className="muted">Each provider connection keygate holds; breaker states refresh every {REFRESH_MS / 1000} s.</p>
      {error && <ErrorBox error={error} title="Could not load the providers" />}
      {loading && !data && <Loading what="providers" />}
      {data && data.providers.length === 0 && <Empty>No provider connection is visible to you.</Empty>}
      {data && data.providers.length > 0 && (
        <TableWrap label="Providers">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Operations</th>
                <th scope="col">Patch fields</th>
                <th scope="col">Breaker</th>
              </tr>
            </thead>
            <tbody>
              {data.providers.map((p) => (
                <tr key={p.name}>
                  <td>
                    <Link to={paths.keys(p.name)}>{p.name}</Link>
                  </td>
                  <td>{p.kind.toLowerCase()}</td>
                  <td>{p.operations.join(', ')}</td>
                  <td>{p.patchFields.join(', ')}</td>
                  <td>
                    <span className={`badge state-${p.health.state.toLowerCase()}`}>{p.health.state.replace('_', ' ')}</span>
                    {p.health.consecutiveFailures > 0 && <span className="note"> {p.health.consecutiveFailures} failures in a row</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </>
  );
}
