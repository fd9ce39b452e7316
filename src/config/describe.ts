/** The resolved config as `--check-config` prints it. */
import { redactUrl } from '../core/redact.ts';
import type { Config } from './schema.ts';

/** The config as `--check-config` prints it: resolved, with every credential "[redacted]". */
export function describeConfig(config: Config): Record<string, unknown> {
  const providers: Record<string, unknown> = {};
  for (const c of config.providers.values()) {
    const settings = Object.fromEntries(Object.entries(c.settings).map(([k, v]) => [k, c.adapter.secretConfigFields.includes(k) ? '[redacted]' : v]));
    providers[c.name] = {
      kind: c.kind,
      ...settings,
      timeoutMs: c.timeoutMs,
      deadlineMs: c.deadlineMs,
      retry: c.retry,
      maxConcurrency: c.maxConcurrency,
      circuitBreaker: c.circuitBreaker,
      rateLimit: typeof c.rateLimit === 'object' && c.rateLimit.store !== undefined ? { ...c.rateLimit, store: redactUrl(c.rateLimit.store) } : c.rateLimit,
      ...(c.cache && { cache: c.cache }),
    };
  }
  const auth = config.auth && {
    tokens: config.auth.tokens.map((t) => ({ name: t.name, token: '[redacted]', scopes: t.scopes.map((s) => `${s.action}:${s.provider}`) })),
    ...(config.auth.jwt && { jwt: config.auth.jwt }),
  };
  const audit =
    config.audit.store === 'postgres'
      ? { postgres: redactUrl(config.audit.url), schema: config.audit.schema }
      : config.audit.store === 'sqlite'
        ? { sqlite: config.audit.path, synchronous: config.audit.synchronous }
        : false;
  return { providers, metrics: config.metrics, tracing: config.tracing, ...(auth && { auth }), audit, server: config.server, limits: config.limits };
}
