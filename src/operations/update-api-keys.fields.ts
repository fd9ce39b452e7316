import { refuseOverRequestCap } from './request-updates.ts';
import { updateApiKeys, type ApiKeyError, type ApiKeyUpdateResult } from './update-api-keys.ts';
import { ApiKeyRef } from '../graphql/api-key.ts';
import { builder } from '../graphql/builder.ts';
import { ApiKeyPatchRef, patchFor } from './update-api-key.fields.ts';

export const ApiKeyUpdateInputRef = builder.inputType('ApiKeyUpdateInput', {
  fields: (t) => ({
    provider: t.string({ required: true }),
    id: t.id({ required: true }),
    patch: t.field({ type: ApiKeyPatchRef, required: true }),
  }),
});

export const ApiKeyErrorRef = builder.objectRef<ApiKeyError>('ApiKeyError').implement({
  description: 'The error of one bulk item: the same codes and `upstream` as top-level errors.',
  fields: (t) => ({
    code: t.exposeString('code'),
    message: t.exposeString('message'),
    upstream: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.upstream }),
    attempts: t.int({
      nullable: true,
      description: 'Attempts made when the vendor never answered the last one (else `upstream.attempts`).',
      resolve: (e) => e.attempts,
    }),
    retryAfter: t.int({ nullable: true, description: 'Seconds until keygate will try this provider again (circuit open).', resolve: (e) => e.retryAfter }),
  }),
});

const ApiKeyUpdateResultRef = builder.objectRef<ApiKeyUpdateResult>('ApiKeyUpdateResult').implement({
  fields: (t) => ({
    provider: t.exposeString('provider'),
    id: t.exposeID('id'),
    apiKey: t.field({ type: ApiKeyRef, nullable: true, resolve: (r) => r.apiKey }),
    error: t.field({ type: ApiKeyErrorRef, nullable: true, resolve: (r) => r.error }),
  }),
});

builder.mutationField('updateApiKeys', (t) =>
  t.field({
    type: [ApiKeyUpdateResultRef],
    description:
      'Applies up to 100 updates (and at most `limits.maxUpdatesPerRequest` over the whole request): one result per input, in input order; a failed item carries `error` and never fails the others. Items for one key apply in input order.',
    args: { updates: t.arg({ type: [ApiKeyUpdateInputRef], required: true }) },
    resolve: (_root, args, ctx, info) =>
      refuseOverRequestCap(ctx, info, 'updateApiKeys') ??
      updateApiKeys(
        ctx,
        args.updates.map((u) => ({ provider: u.provider, id: String(u.id), patch: () => patchFor(u.provider, String(u.id), u.patch) })),
      ),
  }),
);
