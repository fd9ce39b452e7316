import { SCOPE_ACTIONS, type Caller } from '../auth/scopes.ts';
import { builder } from './builder.ts';

const ViewerRef = builder.objectRef<Caller>('Viewer').implement({
  description: 'Who is calling, and what it may do (the console hides what the scopes do not allow).',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The caller name: `token:<name>`, `jwt:<issuer>#<subject>`, or `anonymous@loopback` without `auth`.' }),
    scopes: t.stringList({
      description: `Each scope as \`<action>:<provider>\`, the provider \`*\` for all of them; actions: ${SCOPE_ACTIONS.join(', ')}.`,
      resolve: (c) => c.scopes.map((s) => `${s.action}:${s.provider}`),
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: ViewerRef,
    description: 'The authenticated caller. Needs no scope: any caller may ask who it is.',
    resolve: (_root, _args, ctx) => ctx.caller,
  }),
);
