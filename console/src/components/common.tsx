import type { ReactNode } from 'react';
import type { ApiError } from '../api.ts';
import type { KeyFieldsFragment } from '../gql/graphql.ts';

/** Vendor data is always rendered as text (React escapes it); JSON goes in a <pre>, a named region that scrolls. */
export function Json({ value, label }: { value: unknown; label: string }) {
  return (
    // biome-ignore lint/a11y/useSemanticElements: the JSON stays a <pre> (preformatted); role="region" is what gives its aria-label a role that may be named.
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling box must take focus so keyboard users can scroll it (WCAG 2.1.1, axe scrollable-region-focusable).
    <pre className="json" role="region" aria-label={label} tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

/** A contract error: its code, message and the vendor's `upstream` details. */
export function ErrorBox({ error, title = 'Request failed' }: { error: ApiError; title?: string }) {
  return (
    <div className="error" role="alert">
      <p>
        <strong>{title}:</strong> <code className="code">{error.code}</code> {error.message}
      </p>
      {error.upstream !== undefined && error.upstream !== null && (
        <details open>
          <summary>Vendor answer (upstream)</summary>
          <Json value={error.upstream} label="upstream details" />
        </details>
      )}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

/** A horizontally scrollable table wrapper, reachable by keyboard. */
export function TableWrap({ label, children }: { label: string; children: ReactNode }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling box must take focus so keyboard users can scroll it (WCAG 2.1.1, axe scrollable-region-focusable).
    <section className="table-wrap" aria-label={label} tabIndex={0}>
      {children}
    </section>
  );
}

export function formatDate(value: string | null | undefined): string {
  if (!value) return '—';
  const d = new Date(value);
  return Number.isNaN(d.getTime())
    ? value
    : d
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z');
}

export function formatTags(tags: KeyFieldsFragment['tags']): string {
  if (!tags || tags.length === 0) return '—';
  return tags.map((t) => (t.value === null || t.value === undefined ? t.key : `${t.key}=${t.value}`)).join(', ');
}

export function formatEnabled(enabled: boolean | null | undefined): string {
  return enabled === null || enabled === undefined ? '—' : enabled ? 'yes' : 'no';
}

export function KeyFacts({ apiKey }: { apiKey: KeyFieldsFragment }) {
  return (
    <dl className="facts">
      <dt>Id</dt>
      <dd>
        <code>{apiKey.id}</code>
      </dd>
      <dt>Name</dt>
      <dd>{apiKey.name ?? '—'}</dd>
      <dt>Enabled</dt>
      <dd>{formatEnabled(apiKey.enabled)}</dd>
      <dt>Roles</dt>
      <dd>{apiKey.roles?.length ? apiKey.roles.join(', ') : '—'}</dd>
      <dt>Tags</dt>
      <dd>{formatTags(apiKey.tags)}</dd>
      <dt>Expires</dt>
      <dd>{formatDate(apiKey.expiresAt)}</dd>
      <dt>Updated</dt>
      <dd>{formatDate(apiKey.updatedAt)}</dd>
    </dl>
  );
}
