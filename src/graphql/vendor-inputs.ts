/**
 * The GraphQL input types adapters declare as data (`ProviderAdapter.patchInput`, e.g. Tyk's
 * `TykSessionPatch`), built into Pothos input types in the order declared, and the conversion of
 * the client's input into the vendor's wire fields, its problems answered as BAD_USER_INPUT.
 */
import { providers } from '../../providers/index.ts';
import { PatchInputError, type InputFieldSpec, type InputTypeSpec, type PatchInputSpec, type VendorPatchField } from '../../providers/types.ts';
import { invalidPatch } from '../core/checks.ts';
import { builder } from './builder.ts';

type Input = Record<string, unknown>;
type InputRef = ReturnType<typeof builder.inputRef<Input>>;

export interface VendorPatchInput {
  field: VendorPatchField;
  description: string;
  /** The input type `ApiKeyPatch.<field>` takes. */
  ref: InputRef;
}

/** Registers every type of `spec` with the builder; returns the root's ref. */
function buildTypes(spec: PatchInputSpec): InputRef {
  const refs = new Map<string, InputRef>(spec.types.map((t) => [t.name, builder.inputRef<Input>(t.name)]));
  const refFor = (field: InputFieldSpec, owner: InputTypeSpec) => {
    if (typeof field.type === 'string') return field.type;
    const ref = refs.get(field.type.input);
    if (!ref) throw new Error(`${owner.name}: input type ${field.type.input} is not declared`);
    return ref;
  };
  for (const type of spec.types)
    refs.get(type.name)!.implement({
      description: type.description,
      // The field list is data, so the shape Pothos checks statically is not known here.
      fields: (t) =>
        Object.fromEntries(
          Object.entries(type.fields).map(([name, field]) => {
            const of = refFor(field, type);
            // biome-ignore lint: the field's type is only known at run time
            const options: any = { type: field.list ? [of] : of, required: field.required ?? false, description: field.description };
            return [name, t.field(options)];
          }),
        ) as never,
    });
  const root = refs.get(spec.root);
  if (!root) throw new Error(`${spec.field}: root input type ${spec.root} is not declared`);
  return root;
}

const specs = new Map<VendorPatchField, PatchInputSpec>();
for (const { adapter } of Object.values(providers)) if (adapter.patchInput) specs.set(adapter.patchInput.field, adapter.patchInput);

/** Each vendor's own `ApiKeyPatch` field, in registry order. */
export const vendorPatchInputs: readonly VendorPatchInput[] = [...specs.values()].map((spec) => ({
  field: spec.field,
  description: spec.description,
  ref: buildTypes(spec),
}));

/** The client's input for `ApiKeyPatch.<field>` as the vendor's wire fields; BAD_USER_INPUT when the vendor cannot take it. */
export function toVendorFields(field: VendorPatchField, input: Input): Record<string, unknown> {
  try {
    return specs.get(field)!.toWire(input);
  } catch (err) {
    if (err instanceof PatchInputError) throw invalidPatch(undefined, undefined, err.problems);
    throw err;
  }
}
