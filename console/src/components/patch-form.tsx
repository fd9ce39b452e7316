/**
 * The edit form, built from a provider's `patchFields`: a text field for name, a switch for
 * enabled, chips for roles, a tag editor, a date-time field for expiry and a JSON editor for
 * each vendor object (`tyk`, `cloudflare`, `confluent`, `algolia`). It reports the ApiKeyPatch the edits amount to (only what changed), or why it cannot.
 */
import { useEffect, useId, useState, type KeyboardEvent, type ReactNode } from 'react';
import type { ApiKeyPatch, KeyFieldsFragment, TagInput } from '../gql/graphql.ts';

export interface PatchResult {
  patch?: ApiKeyPatch;
  problem?: string;
}

interface Props {
  /** The union of the fields of every provider concerned (bulk), or one provider's. */
  fields: readonly string[];
  /** Tyk tags carry no value. */
  tagsHaveValues: boolean;
  /** The key as it is now, where it could be read; edits are compared with it. */
  current?: KeyFieldsFragment | null;
  onChange(result: PatchResult): void;
  /** A note per field (bulk: which providers support it). */
  notes?: Record<string, string>;
}

/** A vendor's own patch object, edited as JSON (the GraphQL input checks its fields). */
const VENDOR_OBJECTS = [
  { field: 'tyk', title: 'Other Tyk session fields', example: '{"rate": 50, "per": 60}' },
  { field: 'cloudflare', title: 'Cloudflare token fields', example: '{"condition": {"request_ip": {"in": ["192.0.2.0/24"]}}}' },
  { field: 'confluent', title: 'Confluent fields', example: '{"description": "orders producer"}' },
  { field: 'algolia', title: 'Algolia key attributes', example: '{"maxHitsPerQuery": 50, "indexes": ["products"]}' },
];

const toLocalInput = (iso: string | null | undefined) => (iso ? new Date(iso).toISOString().slice(0, 16) : '');

export function PatchForm({ fields, tagsHaveValues, current, onChange, notes = {} }: Props) {
  const id = useId();
  const [name, setName] = useState(current?.name ?? '');
  const [enabled, setEnabled] = useState(current?.enabled ?? true);
  const [enabledTouched, setEnabledTouched] = useState(false);
  const [roles, setRoles] = useState<string[]>(current?.roles ?? []);
  const [rolesTouched, setRolesTouched] = useState(false);
  const [roleInput, setRoleInput] = useState('');
  const [setTags, setSetTags] = useState<TagInput[]>([]);
  const [removeTags, setRemoveTags] = useState<string[]>([]);
  const [tagKey, setTagKey] = useState('');
  const [tagValue, setTagValue] = useState('');
  const [removeInput, setRemoveInput] = useState('');
  const [expires, setExpires] = useState(toLocalInput(current?.expiresAt));
  const [vendorText, setVendorText] = useState<Record<string, string>>({});

  useEffect(() => {
    const patch: ApiKeyPatch = {};
    let problem: string | undefined;
    if (fields.includes('name') && name.trim() !== '' && name !== (current?.name ?? '')) patch.name = name;
    if (fields.includes('enabled') && (current?.enabled != null ? enabled !== current.enabled : enabledTouched)) patch.enabled = enabled;
    if (fields.includes('roles') && rolesTouched && JSON.stringify([...roles].sort()) !== JSON.stringify([...(current?.roles ?? [])].sort()))
      patch.roles = roles;
    if (fields.includes('setTags') && setTags.length) patch.setTags = setTags;
    if (fields.includes('removeTags') && removeTags.length) patch.removeTags = removeTags;
    if (fields.includes('expiresAt') && expires !== toLocalInput(current?.expiresAt) && expires) {
      const at = new Date(`${expires}:00Z`);
      if (Number.isNaN(at.getTime())) problem = 'Expires: not a valid date and time';
      else patch.expiresAt = at.toISOString();
    }
    for (const v of VENDOR_OBJECTS) {
      const text = vendorText[v.field] ?? '';
      if (!fields.includes(v.field) || !text.trim()) continue;
      try {
        const value: unknown = JSON.parse(text);
        if (typeof value !== 'object' || value === null || Array.isArray(value)) problem = `${v.title}: must be a JSON object, e.g. ${v.example}`;
        else (patch as Record<string, unknown>)[v.field] = value;
      } catch (err) {
        problem = `${v.title}: not valid JSON (${(err as Error).message})`;
      }
    }
    onChange(problem ? { problem } : Object.keys(patch).length ? { patch } : {});
    // onChange is the parent's state setter, so it never changes and never re-runs this effect.
  }, [fields, current, name, enabled, enabledTouched, roles, rolesTouched, setTags, removeTags, expires, vendorText, onChange]);

  const addRole = () => {
    const r = roleInput.trim();
    if (r && !roles.includes(r)) {
      setRoles([...roles, r]);
      setRolesTouched(true);
    }
    setRoleInput('');
  };
  const addTag = () => {
    const key = tagKey.trim();
    if (!key) return;
    setSetTags([...setTags.filter((t) => t.key !== key), tagsHaveValues ? { key, value: tagValue } : { key }]);
    setRemoveTags(removeTags.filter((k) => k !== key));
    setTagKey('');
    setTagValue('');
  };
  const removeTag = (key: string) => {
    if (key && !removeTags.includes(key)) setRemoveTags([...removeTags, key]);
    setSetTags(setTags.filter((t) => t.key !== key));
  };
  const removeEntered = () => {
    removeTag(removeInput.trim());
    setRemoveInput('');
  };
  const onEnter = (action: () => void) => (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      action();
    }
  };
  const note = (field: string) => notes[field] && <span className="note">{notes[field]}</span>;

  return (
    <div className="patch-form">
      {fields.includes('name') && (
        <div className="field">
          <label htmlFor={`${id}-name`}>Name</label>
          <input id={`${id}-name`} type="text" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />
          {note('name')}
        </div>
      )}
      {fields.includes('enabled') && (
        <div className="field">
          <span id={`${id}-enabled`}>Enabled</span>
          <button
            type="button"
            role="switch"
            className="switch"
            aria-checked={enabled}
            aria-labelledby={`${id}-enabled`}
            onClick={() => {
              setEnabled(!enabled);
              setEnabledTouched(true);
            }}
          >
            <span aria-hidden="true">{enabled ? 'On' : 'Off'}</span>
          </button>
          {current?.enabled == null && !enabledTouched && <span className="note">unchanged unless switched</span>}
          {note('enabled')}
        </div>
      )}
      {fields.includes('roles') && (
        <fieldset className="field">
          <legend>Roles {rolesTouched ? '' : <span className="note">(unchanged)</span>}</legend>
          <ul className="chips" aria-label="Roles">
            {roles.map((r) => (
              <li key={r} className="chip">
                {r}
                <button
                  type="button"
                  aria-label={`Remove role ${r}`}
                  onClick={() => {
                    setRoles(roles.filter((x) => x !== r));
                    setRolesTouched(true);
                  }}
                >
                  ×
                </button>
              </li>
            ))}
          </ul>
          <div className="inline">
            <label htmlFor={`${id}-role`} className="sr-only">
              Role to add
            </label>
            <input
              id={`${id}-role`}
              type="text"
              placeholder="role to add"
              value={roleInput}
              onChange={(e) => setRoleInput(e.target.value)}
              onKeyDown={onEnter(addRole)}
            />
            <button type="button" onClick={addRole}>
              Add role
            </button>
          </div>
          {note('roles')}
        </fieldset>
      )}
      {(fields.includes('setTags') || fields.includes('removeTags')) && (
        <fieldset className="field">
          <legend>Tags</legend>
          <ul className="chips" aria-label="Tags">
            {(current?.tags ?? []).map((t) => (
              <li key={`cur-${t.key}`} className={`chip${removeTags.includes(t.key) ? ' removed' : ''}`}>
                {t.value == null ? t.key : `${t.key}=${t.value}`}
                {removeTags.includes(t.key) ? (
                  <button type="button" aria-label={`Keep tag ${t.key}`} onClick={() => setRemoveTags(removeTags.filter((k) => k !== t.key))}>
                    ↺
                  </button>
                ) : (
                  fields.includes('removeTags') && (
                    <button type="button" aria-label={`Remove tag ${t.key}`} onClick={() => removeTag(t.key)}>
                      ×
                    </button>
                  )
                )}
              </li>
            ))}
            {setTags.map((t) => (
              <li key={`new-${t.key}`} className="chip added">
                + {t.value == null ? t.key : `${t.key}=${t.value}`}
                <button type="button" aria-label={`Drop new tag ${t.key}`} onClick={() => setSetTags(setTags.filter((x) => x.key !== t.key))}>
                  ×
                </button>
              </li>
            ))}
            {removeTags
              .filter((k) => !(current?.tags ?? []).some((t) => t.key === k))
              .map((k) => (
                <li key={`rm-${k}`} className="chip removed">
                  − {k}
                  <button type="button" aria-label={`Keep tag ${k}`} onClick={() => setRemoveTags(removeTags.filter((x) => x !== k))}>
                    ↺
                  </button>
                </li>
              ))}
          </ul>
          {fields.includes('setTags') && (
            <div className="inline">
              <label htmlFor={`${id}-tag-key`}>Tag key</label>
              <input id={`${id}-tag-key`} type="text" value={tagKey} onChange={(e) => setTagKey(e.target.value)} onKeyDown={onEnter(addTag)} />
              {tagsHaveValues && (
                <>
                  <label htmlFor={`${id}-tag-value`}>Tag value</label>
                  <input id={`${id}-tag-value`} type="text" value={tagValue} onChange={(e) => setTagValue(e.target.value)} onKeyDown={onEnter(addTag)} />
                </>
              )}
              <button type="button" onClick={addTag}>
                Add tag
              </button>
            </div>
          )}
          {fields.includes('removeTags') && !current && (
            <div className="inline">
              <label htmlFor={`${id}-tag-rm`}>Tag key to remove</label>
              <input id={`${id}-tag-rm`} type="text" value={removeInput} onChange={(e) => setRemoveInput(e.target.value)} onKeyDown={onEnter(removeEntered)} />
              <button type="button" onClick={removeEntered}>
                Remove tag
              </button>
            </div>
          )}
          {note('setTags')}
        </fieldset>
      )}
      {fields.includes('expiresAt') && (
        <div className="field">
          <label htmlFor={`${id}-expires`}>Expires (UTC)</label>
          <input id={`${id}-expires`} type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />
          {note('expiresAt')}
        </div>
      )}
      {VENDOR_OBJECTS.filter((v) => fields.includes(v.field)).map((v) => (
        <div className="field" key={v.field}>
          <label htmlFor={`${id}-${v.field}`}>{v.title} (JSON)</label>
          <textarea
            id={`${id}-${v.field}`}
            rows={4}
            spellCheck={false}
            placeholder={v.example}
            value={vendorText[v.field] ?? ''}
            onChange={(e) => setVendorText({ ...vendorText, [v.field]: e.target.value })}
          />
          {note(v.field)}
        </div>
      ))}
    </div>
  );
}

interface ReviewApplyProps {
  result: PatchResult;
  busy?: 'review' | 'apply';
  /** Apply is offered once the current patch has been reviewed. */
  reviewed: boolean;
  labels: { review: string; apply: string };
  onReview(): void;
  onApply(): void;
  children?: ReactNode;
}

/** The form's problem, if any, and its Review and Apply buttons (Apply only after a review of this patch). */
export function ReviewApply({ result, busy, reviewed, labels, onReview, onApply, children }: ReviewApplyProps) {
  return (
    <>
      {result.problem && (
        <p className="error" role="alert">
          {result.problem}
        </p>
      )}
      <div className="actions">
        <button type="button" onClick={onReview} disabled={!result.patch || busy !== undefined}>
          {busy === 'review' ? 'Reviewing…' : labels.review}
        </button>
        <button type="button" className="primary" onClick={onApply} disabled={!result.patch || !reviewed || busy !== undefined}>
          {busy === 'apply' ? 'Applying…' : labels.apply}
        </button>
        {children}
      </div>
    </>
  );
}
