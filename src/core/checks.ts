/**
 * The checks every update passes before anything is sent: the id, then the patch (shape, values no
 * vendor can take, supported fields, the vendor's own limits). Each failure is a GatewayError.
 */
import type { ApiKeyPatch, FieldProblem } from '../../providers/types.ts';
import type { Connection } from './connections.ts';
import { GatewayError, inputError } from './errors.ts';
import { controlCharacterProblems, depthProblem, idProblem, setFields, valueProblems } from './validate.ts';

/** Refuses an id that cannot go into a vendor's path safely (BAD_USER_INPUT, nothing sent). */
export function checkId(provider: string, id: string): void {
  const badId = idProblem(id);
  if (badId) throw inputError(provider, `key id ${JSON.stringify(id.slice(0, 64))} ${badId}`, 'id');
}

/** Every local check of an update; throws the first failing one, having sent nothing. */
export function checkUpdate(connection: Connection, provider: string, id: string, patch: ApiKeyPatch): void {
  checkId(provider, id);
  const { adapter } = connection;
  const tooDeep = depthProblem(patch);
  if (tooDeep) throw inputError(provider, `key "${id}": the patch ${tooDeep}`, 'patch');
  // Values no vendor can be sent as given (Infinity, lone surrogates, `__proto__`), for every vendor alike.
  const unsendable = valueProblems(patch);
  if (unsendable.length > 0) throw invalidPatch(provider, id, unsendable);
  const fields = setFields(patch);
  if (fields.length === 0) throw inputError(provider, `key "${id}": the patch is empty; set at least one of ${adapter.patchFields.join(', ')}`, 'patch');
  const unsupported = fields.filter((f) => !adapter.patchFields.includes(f));
  if (unsupported.length > 0)
    throw new GatewayError(
      `${provider}: key "${id}": ${adapter.kind} cannot change ${unsupported.join(', ')}; supported fields: ${adapter.patchFields.join(', ')}`,
      { code: 'UNSUPPORTED_FIELD', provider, details: { fields: unsupported, allowed: adapter.patchFields } },
    );
  const problems = [...controlCharacterProblems(patch), ...adapter.validate(patch)];
  if (problems.length > 0) throw invalidPatch(provider, id, problems);
}

/** BAD_USER_INPUT naming every problem of a patch; `provider` and `id` prefix the message when known. */
export function invalidPatch(provider: string | undefined, id: string | undefined, problems: readonly FieldProblem[]): GatewayError {
  const where = provider === undefined ? '' : `${provider}: key "${id}": `;
  return new GatewayError(`${where}invalid patch: ${problems.map((p) => `patch.${p.field} ${p.message}`).join('; ')}`, {
    code: 'BAD_USER_INPUT',
    ...(provider !== undefined && { provider }),
    details: { fields: problems.map((p) => `patch.${p.field}`) },
  });
}
