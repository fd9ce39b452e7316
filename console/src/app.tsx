import { useCallback, useEffect, useMemo, useState, type FormEvent, type ReactNode } from 'react';
import { hasToken, request, setToken, type ApiError } from './api.ts';
import { ErrorBox, Loading } from './components/common.tsx';
import { ViewerDocument } from './gql/graphql.ts';
import { toApiError } from './hooks.ts';
import { AuditPage } from './pages/audit.tsx';
import { BulkPage } from './pages/bulk.tsx';
import { KeyPage } from './pages/key.tsx';
import { KeysPage } from './pages/keys.tsx';
import { ProvidersPage } from './pages/providers.tsx';
import { Link, paths, useRoute, type Route } from './router.tsx';
import { allows, ConsoleContext, type BulkItem, type ConsoleState, type ViewerInfo } from './viewer.ts';

type Session = { state: 'loading' } | { state: 'signed-out'; error?: ApiError } | { state: 'failed'; error: ApiError } | { state: 'ready'; viewer: ViewerInfo };

async function loadViewer(): Promise<Session> {
  try {
    const { viewer } = await request(ViewerDocument);
    return { state: 'ready', viewer: { name: viewer.name, scopes: viewer.scopes, signedIn: hasToken() } };
  } catch (err) {
    const error = toApiError(err);
    if (error.code === 'UNAUTHENTICATED') {
      // A stored token that no longer works is dropped; without one this is simply a sign-in.
      const hadToken = hasToken();
      setToken(undefined);
      return { state: 'signed-out', error: hadToken ? error : undefined };
    }
    return { state: 'failed', error };
  }
}

export function App() {
  const [session, setSession] = useState<Session>({ state: 'loading' });
  const refresh = useCallback(() => void loadViewer().then(setSession), []);
  useEffect(refresh, [refresh]);

  if (session.state === 'loading')
    return (
      <Shell>
        <Loading what="the console" />
      </Shell>
    );
  if (session.state === 'failed')
    return (
      <Shell>
        <ErrorBox error={session.error} title="keygate did not answer as expected" />
        <button type="button" onClick={refresh}>
          Try again
        </button>
      </Shell>
    );
  if (session.state === 'signed-out')
    return (
      <Shell>
        <SignIn error={session.error} onSignedIn={setSession} />
      </Shell>
    );
  return (
    <Signed
      viewer={session.viewer}
      onSignOut={() => {
        setToken(undefined);
        setSession({ state: 'signed-out' });
      }}
    />
  );
}

function Shell({ children, nav }: { children: ReactNode; nav?: ReactNode }) {
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">keygate console</span>
        {nav}
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}

function SignIn({ error, onSignedIn }: { error?: ApiError; onSignedIn(s: Session): void }) {
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState<ApiError | undefined>(error);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setToken(value.trim());
    const next = await loadViewer();
    setBusy(false);
    if (next.state === 'signed-out') setProblem(next.error);
    else onSignedIn(next);
  };
  return (
    <section className="sign-in" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Sign in</h1>
      <p>This keygate asks every caller for a bearer token. Paste yours: it stays in this tab (session storage) and is sent only to keygate.</p>
      <form onSubmit={submit}>
        <div className="field">
          <label htmlFor="token">Bearer token</label>
          <input id="token" type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} required />
        </div>
        <button type="submit" className="primary" disabled={busy || !value.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {problem && <ErrorBox error={problem} title="Not signed in" />}
    </section>
  );
}

function Signed({ viewer, onSignOut }: { viewer: ViewerInfo; onSignOut(): void }) {
  const route = useRoute();
  const [selection, setSelection] = useState<BulkItem[]>([]);
  const state = useMemo<ConsoleState>(
    () => ({
      viewer,
      can: (action, provider) => allows(viewer.scopes, action, provider),
      selection,
      toggle: (item) =>
        setSelection((s) =>
          s.some((x) => x.provider === item.provider && x.id === item.id) ? s.filter((x) => !(x.provider === item.provider && x.id === item.id)) : [...s, item],
        ),
      isSelected: (provider, id) => selection.some((x) => x.provider === provider && x.id === id),
      clearSelection: () => setSelection([]),
    }),
    [viewer, selection],
  );
  useEffect(() => {
    document.title = `${titleOf(route)} · keygate console`;
  }, [route]);
  const canWrite = state.can('keys:write');
  const nav = (
    <>
      <nav aria-label="Main">
        <ul>
          <li>
            <Link to={paths.providers()} aria-current={route.page === 'providers' || route.page === 'keys' || route.page === 'key' ? 'page' : undefined}>
              Providers
            </Link>
          </li>
          {canWrite && (
            <li>
              <Link to={paths.bulk()} aria-current={route.page === 'bulk' ? 'page' : undefined}>
                Bulk{selection.length > 0 && ` (${selection.length})`}
              </Link>
            </li>
          )}
          {state.can('audit:read') && (
            <li>
              <Link to={paths.audit()} aria-current={route.page === 'audit' ? 'page' : undefined}>
                Audit
              </Link>
            </li>
          )}
        </ul>
      </nav>
      <div className="viewer">
        <span>
          Signed in as <strong data-testid="viewer-name">{viewer.name}</strong>
        </span>
        <span className="scopes" data-testid="viewer-scopes">
          {viewer.scopes.join(' ')}
        </span>
        {viewer.signedIn && (
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        )}
      </div>
    </>
  );
  return (
    <ConsoleContext.Provider value={state}>
      <Shell nav={nav}>
        <Page route={route} />
      </Shell>
    </ConsoleContext.Provider>
  );
}

function titleOf(route: Route): string {
  switch (route.page) {
    case 'providers':
      return 'Providers';
    case 'keys':
      return `Keys at ${route.provider}`;
    case 'key':
      return `Key ${route.id}`;
    case 'bulk':
      return 'Bulk update';
    case 'audit':
      return 'Audit log';
    default:
      return 'Not found';
  }
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'providers':
      return <ProvidersPage />;
    case 'keys':
      return <KeysPage key={route.provider} provider={route.provider} />;
    case 'key':
      return <KeyPage key={`${route.provider}/${route.id}`} provider={route.provider} id={route.id} />;
    case 'bulk':
      return <BulkPage />;
    case 'audit':
      return <AuditPage params={route.params} />;
    default:
      return (
        <>
          <h1>Not found</h1>
          <p>
            Nothing here. <Link to={paths.providers()}>Go to the providers.</Link>
          </p>
        </>
      );
  }
}
