import { useState } from 'react';
import { request, type ApiError } from '../api.ts';
import { Empty, ErrorBox, Json, KeyFacts, Loading } from '../components/common.tsx';
import { PatchForm, ReviewApply, type PatchResult } from '../components/patch-form.tsx';
import { PreviewView } from '../components/preview.tsx';
import {
  ApplyUpdateDocument,
  ConsoleProvidersDocument,
  KeyDetailDocument,
  PreviewUpdateDocument,
  type ApplyUpdateMutation,
  type PreviewUpdateQuery,
} from '../gql/graphql.ts';
import { toApiError, useQuery } from '../hooks.ts';
import { Link, paths } from '../router.tsx';
import { useConsole } from '../viewer.ts';

export function KeyPage({ provider, id }: { provider: string; id: string }) {
  const { can } = useConsole();
  const providers = useQuery(ConsoleProvidersDocument, {});
  const info = providers.data?.providers.find((p) => p.name === provider);
  const readable = info?.operations.includes('read') ?? false;
  const key = useQuery(KeyDetailDocument, { provider, id }, { skip: !readable });
  const [generation, setGeneration] = useState(0);
  const [applied, setApplied] = useState<ApplyUpdateMutation['updateApiKey']>();
  const current = applied ?? key.data?.apiKey;
  const editable = info?.operations.includes('update') && can('keys:write', provider) && (!readable || key.data?.apiKey);

  return (
    <>
      <p className="crumbs">
        <Link to={paths.providers()}>Providers</Link> / <Link to={paths.keys(provider)}>{provider}</Link> / <span className="id">{id}</span>
      </p>
      <h1>
        Key <code className="id">{id}</code>
      </h1>
      {can('audit:read', provider) && (
        <p>
          <Link to={paths.audit({ provider, keyId: id })}>History of this key</Link>
        </p>
      )}
      {providers.error && <ErrorBox error={providers.error} title="Could not load the providers" />}
      {providers.loading && <Loading what="the provider" />}
      {providers.data && !info && <Empty>No provider connection named “{provider}” is visible to you.</Empty>}
      {info && !readable && (
        <p className="note-box">
          {info.kind.toLowerCase()} has no read endpoint: the key’s current fields cannot be shown, but it can be changed by id. Review shows the exact request
          first.
        </p>
      )}
      {key.error && <ErrorBox error={key.error} title="Could not read the key" />}
      {readable && key.loading && !key.data && <Loading what="the key" />}
      {readable && key.data && !key.data.apiKey && (
        <Empty>
          {provider} says there is no key “{id}”.
        </Empty>
      )}
      {applied && (
        <p className="success" role="status">
          Applied: {provider} answered, and the key below is as it now stands.
        </p>
      )}
      {current && (
        <section aria-labelledby="key-title">
          <h2 id="key-title">{applied ? 'As updated' : 'Now'}</h2>
          <KeyFacts apiKey={current} />
          <details>
            <summary>Vendor body (raw, secrets redacted)</summary>
            <Json value={current.raw} label="raw vendor body" />
          </details>
        </section>
      )}
      {editable && info && (
        <Editor
          key={generation}
          provider={provider}
          id={id}
          fields={info.patchFields}
          tagsHaveValues={info.kind !== 'TYK'}
          current={current ?? null}
          onApplied={(k) => {
            setApplied(k);
            setGeneration((g) => g + 1);
          }}
        />
      )}
    </>
  );
}

interface EditorProps {
  provider: string;
  id: string;
  fields: string[];
  tagsHaveValues: boolean;
  current: ApplyUpdateMutation['updateApiKey'] | null;
  onApplied(key: ApplyUpdateMutation['updateApiKey']): void;
}

function Editor({ provider, id, fields, tagsHaveValues, current, onApplied }: EditorProps) {
  const [result, setResult] = useState<PatchResult>({});
  const [preview, setPreview] = useState<PreviewUpdateQuery['previewApiKeyUpdate']>();
  const [reviewed, setReviewed] = useState<string>();
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState<'review' | 'apply'>();
  const patchText = result.patch && JSON.stringify(result.patch);

  const review = async () => {
    if (!result.patch) return;
    setBusy('review');
    setError(undefined);
    setPreview(undefined);
    try {
      setPreview((await request(PreviewUpdateDocument, { provider, id, patch: result.patch })).previewApiKeyUpdate);
      setReviewed(patchText);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(undefined);
    }
  };
  const apply = async () => {
    if (!result.patch) return;
    setBusy('apply');
    setError(undefined);
    try {
      const { updateApiKey } = await request(ApplyUpdateDocument, { provider, id, patch: result.patch });
      onApplied(updateApiKey);
    } catch (err) {
      setError(toApiError(err));
      setBusy(undefined);
    }
  };

  return (
    <section aria-labelledby="edit-title" className="editor">
      <h2 id="edit-title">Change this key</h2>
      <PatchForm fields={fields} tagsHaveValues={tagsHaveValues} current={current} onChange={setResult} />
      <ReviewApply
        result={result}
        busy={busy}
        reviewed={!!preview && reviewed === patchText}
        labels={{ review: 'Review', apply: 'Apply' }}
        onReview={review}
        onApply={apply}
      >
        {!result.patch && !result.problem && <span className="muted">Change a field, then Review.</span>}
        {preview && reviewed !== patchText && <span className="muted">The form changed since the review: Review again.</span>}
      </ReviewApply>
      {error && <ErrorBox error={error} title="keygate refused" />}
      {preview && reviewed === patchText && <PreviewView preview={preview} />}
    </section>
  );
}
