/** Reads a config file: YAML, `${VAR}` replaced from the environment, then validated (schema.ts). */
import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { type Config, ConfigError, isPlainObject, type ResolveOptions, resolveConfig } from './schema.ts';

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  return parseConfig(text, env, { baseDir: dirname(resolvePath(path)) });
}

export function parseConfig(yamlText: string, env: NodeJS.ProcessEnv = process.env, options: ResolveOptions = {}): Config {
  let doc: unknown;
  try {
    doc = parseYaml(yamlText);
  } catch (err) {
    throw new ConfigError([`YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  const problems: string[] = [];
  const expanded = expandEnv(doc, [], env, problems);
  if (problems.length) throw new ConfigError(problems);
  return resolveConfig(expanded, options);
}

/** Replaces `${VAR}` in every string; a missing variable is a problem naming the path. */
function expandEnv(value: unknown, path: string[], env: NodeJS.ProcessEnv, problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined) {
        problems.push(`${path.join('.') || '(root)'}: environment variable ${name} is not set`);
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, [...path, String(i)], env, problems));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, [...path, k], env, problems);
    return out;
  }
  return value;
}
