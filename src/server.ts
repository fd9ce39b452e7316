/**
 * The CLI entry: parse flags, load the config (or start the sandbox), listen, shut down gracefully.
 *
 *   npm start                                  sandbox mode: simulators of every vendor, no config
 *   npm start -- --config FILE [--port N] [--host H]
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { AuditStoreError, createAuditStore } from './audit/store.ts';
import { ConfigError, describeConfig, loadConfigFile, type Config } from './config.ts';
import { createGateway, type Gateway } from './gateway.ts';
import { createLogger, type Logger } from './log.ts';
import { isLoopback } from './loopback.ts';
import { redactText } from './redact.ts';
import { startSandbox, type RunningSandbox } from './sandbox.ts';

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
    problems.push(`--host ${host}: without an \`auth\` section keygate serves loopback hosts only (127.0.0.1, ::1, localhost); configure auth (README, Authentication) or listen on loopback`);
  if (!options.sandbox && (options.env ?? process.env).NODE_ENV === 'development')
    problems.push('NODE_ENV=development: refused outside sandbox mode, since yoga would show internal error details to clients; unset it or set NODE_ENV=production');
  return problems;
}

/** Starts keygate on host:port (port 0 picks a free one). */
export async function startKeygate(options: KeygateOptions): Promise<RunningKeygate> {
  const { config } = options;
  const host = options.host ?? '127.0.0.1';
  const problems = startupProblems(config, host, options);
  if (problems.length) throw new ConfigError(problems);
  const log = options.log ?? createLogger();
  let audit;
  try {
    audit = await createAuditStore(config.audit, log);
  } catch (err) {
    if (err instanceof AuditStoreError) throw new ConfigError([redactText(err.message, config.secrets)]);
    throw err;
  }
  const separateMetrics = config.metrics.port !== undefined;
  const gateway = createGateway({ config, log, serveMetrics: !separateMetrics, audit, graphiqlDefaultQuery: options.graphiqlDefaultQuery, consoleKeyHints: options.consoleKeyHints });
  const server = createServer(gateway.yoga);
  let port: number;
  try {
    port = await listen(server, options.port ?? 4000, host);
  } catch (err) {
    await gateway.close();
    await audit?.close();
    throw err;
  }
  let metricsServer: Server | undefined;
  let metricsUrl = `${origin(host, port)}/metrics`;
  if (separateMetrics) {
    const { registry } = gateway.metrics;
    metricsServer = createServer(async (req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
    });
    metricsUrl = `${origin(config.metrics.host, await listen(metricsServer, config.metrics.port!, config.metrics.host))}/metrics`;
  }
  if (!config.auth) log.warn({ host }, 'no `auth` section: serving loopback only, and every caller holds every scope');
  log.info({ store: config.audit.store, ...(config.audit.store === 'sqlite' && { path: config.audit.path }) }, config.audit.store === 'off' ? 'audit log off' : 'audit log on');

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

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function origin(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function usage(): string {
  return [
    'usage: npm start [-- --config FILE] [--port N] [--host H]',
    '       npm start -- --check-config FILE   validate FILE and print it resolved, secrets redacted',
    '  without --config keygate runs in sandbox mode: simulators of every vendor on 127.0.0.1',
  ].join('\n');
}

function parsePort(value: string | undefined): number {
  if (value === undefined) return 4000;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new ConfigError([`--port: must be an integer 0..65535`]);
  return port;
}

async function main(argv: string[]): Promise<void> {
  let args: { config?: string; 'check-config'?: string; port?: string; host?: string; help?: boolean };
  try {
    args = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        'check-config': { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`keygate: ${(err as Error).message}\n${usage()}`);
    process.exit(2);
  }
  if (args.help) {
    console.log(usage());
    return;
  }
  if (args['check-config']) {
    try {
      const config = loadConfigFile(args['check-config']);
      console.log(`# ${args['check-config']}: valid\n${toYaml(describeConfig(config))}`);
      process.exit(0);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      console.error(`keygate: ${err.message}`);
      process.exit(1);
    }
  }

  const log = createLogger();
  let sandbox: RunningSandbox | undefined;
  let running: RunningKeygate;
  let open = false;
  try {
    const port = parsePort(args.port);
    const config = args.config ? loadConfigFile(args.config) : (sandbox = await startSandbox()).config;
    open = !config.auth;
    running = await startKeygate({
      config,
      port,
      host: args.host,
      log,
      configPath: args.config,
      sandbox: sandbox !== undefined,
      graphiqlDefaultQuery: sandbox && sandboxExamples(sandbox),
      consoleKeyHints: sandbox && Object.fromEntries([...sandbox.sandboxes].map(([kind, s]) => [kind, s.demoKeyIds])),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`keygate: ${err.message}`);
      await sandbox?.close();
      process.exit(1);
    }
    throw err;
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await running.close();
    await sandbox?.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => void running.reload());

  // Printed only once the signal handlers are in place: whoever reads the banner may stop us at once.
  if (sandbox) printSandbox(running.url, sandbox);
  else
    console.log(
      `keygate listening on ${running.url}${open ? ' (no `auth` section: loopback only, every caller holds every scope)' : ''}`,
    );
}

/** GraphiQL's starting text in sandbox mode: one example per provider, ready to run. */
export function sandboxExamples(sandbox: RunningSandbox): string {
  const lines = ['# keygate sandbox: every provider is a simulator on 127.0.0.1.', '# Put the cursor in one operation and press Run.', '', 'query Providers { providers { name kind operations patchFields } }', ''];
  for (const [kind, s] of sandbox.sandboxes) lines.push(`# ${kind}`, s.exampleMutation(kind).replace(/^mutation /, `mutation ${kind[0].toUpperCase()}${kind.slice(1)}Example `), '');
  return lines.join('\n');
}

function printSandbox(url: string, sandbox: RunningSandbox): void {
  const lines = [
    '',
    `keygate (sandbox mode) — GraphiQL at ${url}`,
    `Keys console at ${url.replace(/\/graphql$/, '/console')}`,
    'Every provider below is an in-process simulator on 127.0.0.1; nothing leaves this machine.',
    '',
  ];
  for (const [kind, s] of sandbox.sandboxes) {
    lines.push(`  ${kind.padEnd(7)} demo keys: ${s.demoKeyIds.join(', ')}`);
    lines.push(`          ${s.exampleMutation(kind)}`);
    lines.push(`          faults: POST ${s.simulator.origin}/__sim/faults`);
  }
  lines.push(
    '',
    'Faults (README, Resilience): curl -X POST <faults URL> -d \'{"response":{"status":503},"times":2}\'',
    'Run with --config FILE to talk to real vendors (see README).',
    '',
  );
  console.log(lines.join('\n'));
}

if (import.meta.main) {
  await main(process.argv.slice(2));
}
