/**
 * keygate as a library: `startKeygate` opens the audit store, builds the gateway, listens (with the
 * slow-client bounds of `server`), reloads on request and shuts down gracefully. The CLI is main.ts.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAuditStore } from './audit/store.ts';
import { AuditStoreError, type AuditStore } from './audit/model.ts';
import { ConfigError, type Config, type ServerConfig } from './config/schema.ts';
import { loadConfigFile } from './config/load.ts';
import { createGateway, type Gateway } from './http/gateway.ts';
import { createLogger, type Logger } from './observability/log.ts';
import { isLoopback } from './http/loopback.ts';
import { redactText } from './core/redact.ts';
import type { Clock } from './core/clock.ts';

export interface KeygateOptions {
  config: Config;
  port?: number;
  host?: string;
  log?: Logger;
  /** Where the config came from: `reload()` (SIGHUP) re-reads it. */
  configPath?: string;
  /** Sandbox mode (simulators only): NODE_ENV=development is tolerated there. */
  sandbox?: boolean;
  /** What GraphiQL's editor starts with. */
  graphiqlDefaultQuery?: string;
  /** Key ids the console suggests per provider (the sandbox's demo keys). */
  consoleKeyHints?: Record<string, string[]>;
  /** The environment checked at start-up (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The time source of deadlines, backoff and breaker cooldowns (tests drive it; default real). */
  clock?: Clock;
}

export interface RunningKeygate {
  /** http://HOST:PORT/graphql */
  url: string;
  /** http://HOST:PORT/metrics (the main port unless `metrics.port` is set). */
  metricsUrl: string;
  gateway: Gateway;
  server: Server;
  /** Re-reads and validates the config file; on success swaps providers and credentials atomically. */
  reload(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * What refuses to start: a non-loopback host without `auth` (it would let anyone on the network
 * act with every scope), and NODE_ENV=development outside sandbox mode (yoga then shows internal
 * error details to clients).
 */
export function startupProblems(config: Config, host: string, options: { sandbox?: boolean; env?: NodeJS.ProcessEnv } = {}): string[] {
  const problems: string[] = [];
  if (!config.auth && !isLoopback(host))
    problems.push(
      `--host ${host}: without an \`auth\` section keygate serves loopback hosts only (127.0.0.1, ::1, localhost); configure auth (docs/security-and-audit.md) or listen on loopback`,
    );
  if (!options.sandbox && (options.env ?? process.env).NODE_ENV === 'development')
    problems.push(
      'NODE_ENV=development: refused outside sandbox mode, since yoga would show internal error details to clients; unset it or set NODE_ENV=production',
    );
  return problems;
}

/** Starts keygate on host:port (port 0 picks a free one). */
export async function startKeygate(options: KeygateOptions): Promise<RunningKeygate> {
  const { config } = options;
  const host = options.host ?? '127.0.0.1';
  const problems = startupProblems(config, host, options);
  if (problems.length) throw new ConfigError(problems);
  const log = options.log ?? createLogger();
  let audit: AuditStore | undefined;
  try {
    audit = await createAuditStore(config.audit, log);
  } catch (err) {
    if (err instanceof AuditStoreError) throw new ConfigError([redactText(err.message, config.secrets)]);
    throw err;
  }
  const separateMetrics = config.metrics.port !== undefined;
  const gateway = createGateway({
    config,
    log,
    serveMetrics: !separateMetrics,
    audit,
    graphiqlDefaultQuery: options.graphiqlDefaultQuery,
    consoleKeyHints: options.consoleKeyHints,
    clock: options.clock,
  });
  const server = createHttpServer(config.server, gateway.yoga);
  let port: number;
  try {
    port = await listen(server, options.port ?? 4000, host, log);
  } catch (err) {
    await gateway.close();
    await audit?.close();
    throw err;
  }
  let metricsServer: Server | undefined;
  let metricsUrl = `${origin(host, port)}/metrics`;
  if (separateMetrics) {
    const { registry } = gateway.metrics;
    metricsServer = createHttpServer(config.server, async (req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
    });
    metricsUrl = `${origin(config.metrics.host, await listen(metricsServer, config.metrics.port!, config.metrics.host, log))}/metrics`;
  }
  if (!config.auth) log.warn({ host }, 'no `auth` section: serving loopback only, and every caller holds every scope');
  log.info(
    { store: config.audit.store, ...(config.audit.store === 'sqlite' && { path: config.audit.path }) },
    config.audit.store === 'off' ? 'audit log off' : 'audit log on',
  );

  const reload = async (): Promise<boolean> => {
    if (!options.configPath) {
      log.warn('reload asked for, but there is no config file (sandbox mode)');
      return false;
    }
    try {
      const next = loadConfigFile(options.configPath);
      const refused = startupProblems(next, host, { sandbox: true });
      if (refused.length) throw new ConfigError(refused);
      if (JSON.stringify(next.audit) !== JSON.stringify(config.audit)) log.warn('the audit section changed; it takes effect at the next restart');
      await gateway.reload(next);
      gateway.metrics.reloads.inc({ result: 'success' });
      log.info({ path: options.configPath }, 'config reloaded');
      return true;
    } catch (err) {
      gateway.metrics.reloads.inc({ result: 'failure' });
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      log.error({ path: options.configPath, problems }, 'config reload failed; keeping the running config');
      return false;
    }
  };

  return {
    url: `${origin(host, port)}/graphql`,
    metricsUrl,
    gateway,
    server,
    reload,
    close: async () => {
      gateway.drain();
      metricsServer?.close();
      // Stop accepting, let in-flight requests finish within a bound, then drop idle sockets.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // A keep-alive connection whose call just finished would otherwise hold the close until the
      // client gives it up: drop connections as soon as they are idle.
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      const graceMs = config.server.shutdownGraceMs;
      let cut = false;
      const timer = setTimeout(() => {
        cut = true;
        log.warn({ requests: gateway.inFlight(), graceMs }, 'shutdown grace period over: dropping the requests still in flight');
        server.closeAllConnections();
      }, graceMs);
      await closed;
      clearInterval(sweep);
      clearTimeout(timer);
      if (cut) {
        // A call cut here may or may not have reached the vendor: the audit store starts closing
        // first (it refuses writes from then on), so its entry stays PENDING (unknown) rather than
        // getting the outcome of the abort below; the abort also frees any PostgreSQL key lock the
        // call holds, which the store's close waits for.
        const auditClosed = audit?.close();
        await gateway.close(true);
        await auditClosed;
      } else {
        await gateway.close();
        await audit?.close();
      }
    },
  };
}

/**
 * A Node HTTP server with the slow-client bounds of `server`: headers (an idle new connection
 * included) and the whole request must arrive in time, else 408; idle keep-alive connections
 * close; connections beyond `maxConnections` are closed on accept. The time to answer is not
 * bounded here (a call runs up to its `deadlineMs`).
 */
export function createHttpServer(edge: ServerConfig, listener: RequestListener): Server {
  const server = createServer(
    {
      headersTimeout: edge.headersTimeoutMs,
      requestTimeout: edge.requestTimeoutMs,
      keepAliveTimeout: edge.keepAliveTimeoutMs,
      // Node checks the two timeouts above only this often (default 30 s): a fraction of the shorter one.
      connectionsCheckingInterval: Math.max(50, Math.floor(edge.headersTimeoutMs / 4)),
    },
    listener,
  );
  server.maxConnections = edge.maxConnections;
  return server;
}

/**
 * Listens; an error while listening rejects. Once listening, a server's 'error' (an accept that
 * fails, e.g. EMFILE) is logged: unhandled, it would end the process and every call in flight.
 */
function listen(server: Server, port: number, host: string, log: Logger): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      server.on('error', (err: NodeJS.ErrnoException) => log.error({ err: { code: err.code, message: err.message } }, 'server error; still serving'));
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function origin(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
