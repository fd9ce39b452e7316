/** A small history-API router for the console's few routes, all under /console. */
import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from 'react';

export const BASE = '/console';

export type Route =
  | { page: 'providers' }
  | { page: 'keys'; provider: string }
  | { page: 'key'; provider: string; id: string }
  | { page: 'bulk' }
  | { page: 'audit'; params: URLSearchParams }
  | { page: 'not-found'; path: string };

export function parseRoute(pathname: string, search: string): Route {
  const path = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: 'providers' };
  if (parts[0] === 'providers' && parts.length === 2) return { page: 'keys', provider: parts[1] };
  if (parts[0] === 'providers' && parts.length === 4 && parts[2] === 'keys') return { page: 'key', provider: parts[1], id: parts[3] };
  if (parts[0] === 'bulk' && parts.length === 1) return { page: 'bulk' };
  if (parts[0] === 'audit' && parts.length === 1) return { page: 'audit', params: new URLSearchParams(search) };
  return { page: 'not-found', path };
}

export const paths = {
  providers: () => `${BASE}/`,
  keys: (provider: string) => `${BASE}/providers/${encodeURIComponent(provider)}`,
  key: (provider: string, id: string) => `${BASE}/providers/${encodeURIComponent(provider)}/keys/${encodeURIComponent(id)}`,
  bulk: () => `${BASE}/bulk`,
  audit: (filter: Record<string, string | undefined> = {}) => {
    const q = new URLSearchParams(Object.entries(filter).filter((e): e is [string, string] => !!e[1]));
    return `${BASE}/audit${q.size ? `?${q}` : ''}`;
  },
};

export function navigate(to: string): void {
  window.history.pushState(null, '', to);
  window.dispatchEvent(new PopStateEvent('popstate'));
  window.scrollTo(0, 0);
}

const readRoute = () => parseRoute(window.location.pathname, window.location.search);

export function useRoute(): Route {
  const [route, setRoute] = useState(readRoute);
  useEffect(() => {
    const onPop = () => setRoute(readRoute());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  return route;
}

/** An ordinary link (middle-click and copy work) that navigates in place on a plain click. */
export function Link({ to, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={onClick} {...rest} />;
}
