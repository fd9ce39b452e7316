/**
 * Configuration: YAML, `${VAR}` expanded from the environment in every string, validated into a
 * typed Config. Every problem names its path (`providers.atlas.orgId: required`); nothing here
 * ever prints a value, so no credential reaches an error message.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { providers as registry, providerKinds } from '../providers/index.ts';
import type { ProviderAdapter, ProviderKind } from '../providers/types.ts';

export interface ConnectionConfig {
  /** What clients pass as `provider`. */
  name: string;
  kind: ProviderKind;
  adapter: ProviderAdapter;
  /** The adapter's own config: baseUrl plus the kind-specific fields. */
  settings: { baseUrl: string } & Record<string, unknown>;
  /** One attempt. */
  timeoutMs: number;
  /** The whole call: attempts, waits and auth handshakes included. */
  deadlineMs: number;
  retry: { attempts: number; maxDelayMs: number };
  /** Calls in flight to this connection (the bulkhead); bulk updates never exceed it either. */
  maxConcurrency: number;
  circuitBreaker: { failures: number; cooldownMs: number };
}

export interface Config {
  providers: Map<string, ConnectionConfig>;
  /** Every credential value in the config, for redaction. */
  secrets: string[];
  /** `/metrics` on its own port (e.g. bound to an internal interface); absent: on the main port. */
  metrics: { port?: number; host: string };
  /** Optional OTLP/HTTP trace export (off without an endpoint). */
  tracing: { otlpEndpoint?: string; serviceName: string };
}

/** The top-level sections a config may have. */
const SECTIONS = ['providers', 'metrics', 'tracing'];

const tracingSection = z
  .object({
    otlpEndpoint: z.string().refine(isHttpUrl, 'must be an absolute http(s) URL, e.g. http://collector:4318/v1/traces').optional(),
    serviceName: z.string().min(1).default('keygate'),
  })
  .strict()
  .default({ serviceName: 'keygate' });

const metricsSection = z
  .object({
    port: z.number().int().min(0).max(65535).optional(),
    host: z.string().min(1).default('127.0.0.1'),
  })
  .strict()
  .default({ host: '127.0.0.1' });

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

export const DEFAULT_TIMEOUT_MS = 5_000;
const PROVIDER_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

const connectionCommon = z.object({
  kind: z.enum(providerKinds as [ProviderKind, ...ProviderKind[]]),
  baseUrl: z
    .string()
    .refine(isHttpUrl, 'must be an absolute http(s) URL without credentials, query or fragment')
    .optional(),
  timeoutMs: z.number().int().min(1).max(600_000).default(DEFAULT_TIMEOUT_MS),
  deadlineMs: z.number().int().min(1).max(3_600_000).default(15_000),
  retry: z
    .object({ attempts: z.number().int().min(1).max(10).default(3), maxDelayMs: z.number().int().min(0).max(600_000).default(10_000) })
    .strict()
    .default({ attempts: 3, maxDelayMs: 10_000 }),
  maxConcurrency: z.number().int().min(1).max(1024).default(8),
  circuitBreaker: z
    .object({ failures: z.number().int().min(1).max(1000).default(5), cooldownMs: z.number().int().min(1).max(3_600_000).default(30_000) })
    .strict()
    .default({ failures: 5, cooldownMs: 30_000 }),
});

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  return parseConfig(text, env);
}

export function parseConfig(yamlText: string, env: NodeJS.ProcessEnv = process.env): Config {
  let doc: unknown;
  try {
    doc = parseYaml(yamlText);
  } catch (err) {
    throw new ConfigError([`YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  const problems: string[] = [];
  const expanded = expandEnv(doc, [], env, problems);
  if (problems.length) throw new ConfigError(problems);
  return resolveConfig(expanded);
}

/** Validates an already-parsed, already-expanded config object. */
export function resolveConfig(doc: unknown): Config {
  const problems: string[] = [];
  if (!isPlainObject(doc)) throw new ConfigError(['(root): must be a mapping with a `providers` section']);
  for (const key of Object.keys(doc)) if (!SECTIONS.includes(key)) problems.push(`${key}: unknown section (allowed: ${SECTIONS.join(', ')})`);
  const metrics = metricsSection.safeParse(doc.metrics, { error: requiredMessage });
  if (!metrics.success) problems.push(...formatIssues('metrics', metrics.error.issues));
  const tracing = tracingSection.safeParse(doc.tracing, { error: requiredMessage });
  if (!tracing.success) problems.push(...formatIssues('tracing', tracing.error.issues));
  const section = doc.providers;
  if (!isPlainObject(section) || Object.keys(section).length === 0) {
    problems.push('providers: required (a mapping of at least one provider connection)');
    throw new ConfigError(problems);
  }

  const connections = new Map<string, ConnectionConfig>();
  const secrets: string[] = [];
  for (const [name, raw] of Object.entries(section)) {
    const at = `providers.${name}`;
    if (!PROVIDER_NAME.test(name)) {
      problems.push(`${at}: a provider name must start with a letter and hold only letters, digits, '_' or '-' (max 64)`);
      continue;
    }
    const common = connectionCommon.safeParse(raw, { error: requiredMessage });
    if (!common.success) {
      problems.push(...formatIssues(at, common.error.issues));
      continue;
    }
    const { kind, baseUrl, timeoutMs, deadlineMs, retry, maxConcurrency, circuitBreaker } = common.data;
    const adapter = registry[kind].adapter as ProviderAdapter;
    const specific = connectionCommon.extend(adapter.configSchema.shape).strict().safeParse(raw, { error: requiredMessage });
    if (!specific.success) {
      problems.push(...formatIssues(at, specific.error.issues));
      continue;
    }
    const url = baseUrl ?? adapter.defaultBaseUrl;
    if (url === undefined) {
      problems.push(`${at}.baseUrl: required (${kind} has no default URL)`);
      continue;
    }
    const { kind: _k, timeoutMs: _t, deadlineMs: _d, retry: _r, maxConcurrency: _m, circuitBreaker: _c, ...settings } = specific.data as Record<string, unknown>;
    for (const field of adapter.secretConfigFields) {
      const value = settings[field];
      if (typeof value === 'string' && value.length > 0) secrets.push(value);
    }
    connections.set(name, {
      name,
      kind,
      adapter,
      settings: { ...settings, baseUrl: url.replace(/\/+$/, '') },
      timeoutMs,
      deadlineMs: Math.max(deadlineMs, timeoutMs),
      retry,
      maxConcurrency,
      circuitBreaker,
    });
  }
  if (problems.length || !metrics.success || !tracing.success) throw new ConfigError(problems);
  return { providers: connections, secrets, metrics: metrics.data, tracing: tracing.data };
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

function requiredMessage(issue: { code?: string; input?: unknown }): string | undefined {
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'required';
  return undefined;
}

function formatIssues(at: string, issues: z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') return `${at}: unknown field(s) ${issue.keys.join(', ')}`;
    const path = issue.path.length ? `${at}.${issue.path.join('.')}` : at;
    return `${path}: ${issue.message}`;
  });
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password && !u.search && !u.hash;
  } catch {
    return false;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The config as `--check-config` prints it: resolved, with every credential "[redacted]". */
export function describeConfig(config: Config): Record<string, unknown> {
  const providers: Record<string, unknown> = {};
  for (const c of config.providers.values()) {
    const settings = Object.fromEntries(
      Object.entries(c.settings).map(([k, v]) => [k, c.adapter.secretConfigFields.includes(k) ? '[redacted]' : v]),
    );
    providers[c.name] = {
      kind: c.kind,
      ...settings,
      timeoutMs: c.timeoutMs,
      deadlineMs: c.deadlineMs,
      retry: c.retry,
      maxConcurrency: c.maxConcurrency,
      circuitBreaker: c.circuitBreaker,
    };
  }
  return { providers, metrics: config.metrics, tracing: config.tracing };
}
