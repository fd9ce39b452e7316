import type { ApiKeyPatch, VendorPatchField } from '../../providers/types.ts';
import { GatewayError } from '../core/errors.ts';
import { refuseOverRequestCap } from './request-updates.ts';
import { updateApiKey } from './update-api-key.ts';
import { ApiKeyRef } from '../graphql/api-key.ts';
import { builder } from '../graphql/builder.ts';
import { toVendorFields, vendorPatchInputs } from '../graphql/vendor-inputs.ts';

export const TagInputRef = builder.inputType('TagInput', {
  fields: (t) => ({
    key: t.string({ required: true }),
    value: t.string({ description: 'Required for Mesa; not allowed for Tyk, whose tags have no value.' }),
  }),
});

export const ApiKeyPatchRef = builder.inputType('ApiKeyPatch', {
  description: 'What to change. Absent or null fields are left alone; `Provider.patchFields` lists what each provider supports.',
  fields: (t) => ({
    name: t.string({ description: 'basic label · atlas desc · tyk alias · plumaa name' }),
    enabled: t.boolean({ description: 'tyk is_inactive = !enabled · plumaa enabled' }),
    roles: t.stringList({ description: 'basic roles (comma-joined) · atlas roles (replaces the set)' }),
    setTags: t.field({ type: [TagInputRef], description: 'mesa tags[key] = value (value required) · tyk tags += key (no value allowed)' }),
    removeTags: t.stringList({ description: 'mesa tags[key] = null · tyk tags -= key' }),
    expiresAt: t.field({ type: 'DateTime', description: 'tyk expires (unix seconds)' }),
    ...Object.fromEntries(vendorPatchInputs.map((v) => [v.field, t.field({ type: v.ref, description: v.description })])),
  }),
});

/** The neutral fields as Pothos infers them; each vendor's own field holds that vendor's input (built at run time). */
type PatchInput = typeof ApiKeyPatchRef.$inferInput & Partial<Record<VendorPatchField, Record<string, unknown> | null>>;

/** GraphQL input -> the vendor-neutral patch: nulls dropped, each vendor's own fields in its wire shape. */
export function toApiKeyPatch(input: PatchInput): ApiKeyPatch {
  const patch: ApiKeyPatch = {};
  if (input.name != null) patch.name = input.name;
  if (input.enabled != null) patch.enabled = input.enabled;
  if (input.roles != null) patch.roles = input.roles;
  if (input.setTags != null) patch.setTags = input.setTags.map((t) => ({ key: t.key, value: t.value ?? null }));
  if (input.removeTags != null) patch.removeTags = input.removeTags;
  if (input.expiresAt != null) patch.expiresAt = input.expiresAt;
  for (const { field } of vendorPatchInputs) {
    const value = input[field];
    if (value != null) patch[field] = toVendorFields(field, value);
  }
  return patch;
}

/** toApiKeyPatch, with any input error naming the provider and key like every other error. */
export function patchFor(provider: string, id: string, input: PatchInput): ApiKeyPatch {
  try {
    return toApiKeyPatch(input);
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    const { code: _code, ...details } = err.extensions;
    throw new GatewayError(`${provider}: key "${id}": ${err.message}`, { code: err.code, provider, details });
  }
}

builder.mutationField('updateApiKey', (t) =>
  t.field({
    type: ApiKeyRef,
    description: "Applies `patch` to key `id` at `provider` through the vendor's own API, or refuses it with a coded error.",
    args: {
      provider: t.arg.string({ required: true }),
      id: t.arg.id({ required: true }),
      patch: t.arg({ type: ApiKeyPatchRef, required: true }),
    },
    // The patch is converted inside the operation, so an invalid one is audited like any refusal.
    resolve: (_root, args, ctx, info) =>
      refuseOverRequestCap(ctx, info, 'update') ??
      updateApiKey(ctx, args.provider, String(args.id), () => patchFor(args.provider, String(args.id), args.patch)),
  }),
);
