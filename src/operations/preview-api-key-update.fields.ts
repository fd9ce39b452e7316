import { previewApiKeyUpdate, type ApiKeyUpdatePreview, type PlannedRequest } from './preview-api-key-update.ts';
import { ApiKeyRef } from '../graphql/api-key.ts';
import { builder } from '../graphql/builder.ts';
import { ApiKeyPatchRef, patchFor } from './update-api-key.fields.ts';

const PlannedRequestRef = builder.objectRef<PlannedRequest>('PlannedRequest').implement({
  description: 'A request the update would send, exactly; every credential shown as "[redacted]".',
  fields: (t) => ({
    method: t.exposeString('method'),
    url: t.exposeString('url'),
    headers: t.field({ type: 'JSON', resolve: (r) => r.headers }),
    body: t.field({ type: 'JSON', nullable: true, resolve: (r) => r.body }),
  }),
});

const ApiKeyUpdatePreviewRef = builder.objectRef<ApiKeyUpdatePreview>('ApiKeyUpdatePreview').implement({
  fields: (t) => ({
    requests: t.field({ type: [PlannedRequestRef], resolve: (p) => p.requests }),
    before: t.field({ type: ApiKeyRef, nullable: true, description: 'The key now, where the vendor can be read.', resolve: (p) => p.before }),
    after: t.field({
      type: ApiKeyRef,
      nullable: true,
      description: 'The key as the update is expected to leave it; `raw` is the body that would be sent.',
      resolve: (p) => p.after,
    }),
  }),
});

builder.queryField('previewApiKeyUpdate', (t) =>
  t.field({
    type: ApiKeyUpdatePreviewRef,
    description: 'Runs every check and read `updateApiKey` would, and shows what it would send. Never writes.',
    args: {
      provider: t.arg.string({ required: true }),
      id: t.arg.id({ required: true }),
      patch: t.arg({ type: ApiKeyPatchRef, required: true }),
    },
    resolve: (_root, args, ctx) => previewApiKeyUpdate(ctx, args.provider, String(args.id), () => patchFor(args.provider, String(args.id), args.patch)),
  }),
);
