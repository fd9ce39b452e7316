/**
 * The vendor patch objects (`ApiKeyPatch.cloudflare`, `.confluent`, `.algolia`) as GraphQL inputs,
 * built from each registered adapter's `vendorPatch`, so a vendor adds its own fields from its
 * folder alone. Tyk's richer input is hand-written (tyk-session-patch.ts).
 */
import { providers } from '../../providers/index.ts';
import type { VendorPatchSpec } from '../../providers/types.ts';
import { builder } from './builder.ts';

type Field = VendorPatchSpec['fields'][string];

function pascal(text: string): string {
  return text[0].toUpperCase() + text.slice(1);
}

/** One input type per registered vendor patch object, with the spec it came from. */
export const vendorPatchInputs = Object.values(providers).flatMap(({ adapter }) => {
  const spec = adapter.vendorPatch;
  if (!spec) return [];
  const input = builder.inputType(`${pascal(spec.field)}Patch`, {
    description: spec.description,
    fields: (t) =>
      Object.fromEntries(
        Object.entries(spec.fields).map(([name, f]: [string, Field]) => {
          const options = { description: f.description ?? `${adapter.kind} \`${f.wire}\`` };
          switch (f.type) {
            case 'string':
              return [name, t.string(options)];
            case 'integer':
              return [name, t.int(options)];
            case 'number':
              return [name, t.float(options)];
            case 'boolean':
              return [name, t.boolean(options)];
            case 'date':
              return [name, t.field({ type: 'DateTime', ...options })];
            case 'strings':
              return [name, t.stringList(options)];
            default:
              return [name, t.field({ type: 'JSON', ...options })];
          }
        }),
      ),
  });
  return [{ spec, input }];
});

/** The GraphQL input of a vendor object as its wire fields; null fields are dropped (left alone). */
export function toVendorFields(spec: VendorPatchSpec, input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(spec.fields)) {
    const v = input[name];
    if (v !== undefined && v !== null) out[f.wire] = v;
  }
  return out;
}
