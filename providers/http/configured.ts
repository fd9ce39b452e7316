/**
 * `kind: http`: a vendor keygate does not ship, defined in the config file. The connection holds
 * the definition (providers/http/engine.ts), `params` (plain values) and `credentials` (secret
 * values, redacted everywhere); templates read both as `config.<name>`.
 */
import { z } from 'zod';
import type { ProviderAdapter } from '../types.ts';
import { DefinitionError, GENERIC_PATCH_FIELDS, httpAdapter, httpDefinitionSchema } from './engine.ts';

/** The connection fields that belong to the definition (everything else is a connection setting). */
export const HTTP_CONNECTION_FIELDS: readonly string[] = Object.keys(httpDefinitionSchema.shape).filter((k) => k !== 'baseUrl');

/** Connection fields a param or credential may not be named after. */
const RESERVED = ['kind', 'baseUrl', 'timeoutMs', 'deadlineMs', 'retry', 'maxConcurrency', 'circuitBreaker', 'params', 'credentials'];
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const values = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional();

/**
 * The adapter of one `kind: http` connection and its settings (params and credentials flattened,
 * beside the common connection fields). Throws DefinitionError naming each problem's path.
 */
export function configuredAdapter(
  definition: Record<string, unknown>,
  raw: Record<string, unknown>,
  at: string,
): { adapter: ProviderAdapter; settings: Record<string, unknown> } {
  const problems: string[] = [];
  const { params: rawParams, credentials: rawCredentials, ...rest } = raw;
  const parsedParams = values.safeParse(rawParams);
  const parsedCredentials = values.safeParse(rawCredentials);
  if (!parsedParams.success) problems.push(`${at}.params: must be a mapping of names to strings`);
  if (!parsedCredentials.success) problems.push(`${at}.credentials: must be a mapping of names to strings`);
  const params = (parsedParams.success && parsedParams.data) || {};
  const credentials = (parsedCredentials.success && parsedCredentials.data) || {};
  for (const [where, names] of [
    ['params', Object.keys(params)],
    ['credentials', Object.keys(credentials)],
  ] as const)
    for (const name of names) {
      if (!NAME.test(name)) problems.push(`${at}.${where}.${name}: a name must start with a letter and hold only letters, digits and '_'`);
      else if (RESERVED.includes(name)) problems.push(`${at}.${where}.${name}: is a connection field name (reserved: ${RESERVED.join(', ')})`);
      else if (where === 'credentials' && Object.hasOwn(params, name)) problems.push(`${at}.credentials.${name}: is also a param`);
    }
  for (const [name, value] of Object.entries(credentials)) if (value === '') problems.push(`${at}.credentials.${name}: must not be empty`);
  let adapter: ProviderAdapter | undefined;
  try {
    adapter = httpAdapter<Record<string, string>>(definition, {
      kind: 'http',
      at,
      configSchema: z.object(Object.fromEntries([...Object.keys(params), ...Object.keys(credentials)].map((k) => [k, z.string()]))),
      secretConfigFields: Object.keys(credentials),
      allowedPatchFields: GENERIC_PATCH_FIELDS,
    }) as unknown as ProviderAdapter;
  } catch (err) {
    if (!(err instanceof DefinitionError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length || !adapter) throw new DefinitionError(problems);
  return { adapter, settings: { ...rest, ...params, ...credentials } };
}
