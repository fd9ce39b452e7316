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
import { ConfigError, describeConfig, loadConfigFile, type Config } from './config.ts';
import { createGateway, type Gateway } from './gateway.ts';
import { createLogger, type Logger } from './log.ts';
import { startSandbox, type RunningSandbox } from './sandbox.ts';

export interface KeygateOptions {
  config: Config;
  port?: number;
  host?: string;
  log?: Logger;
  /** Where the config came from: `reload()` (SIGHUP) re-reads it. */
  configPath?: string;
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

const SHUTDOWN_GRACE_MS = 10_000;

/** Starts keygate on host:port (port 0 picks a free one). */
export async function startKeygate(options: KeygateOptions): Promise<RunningKeygate> {
  const { config } = options;
  const separateMetrics = config.metrics.port !== undefined;
  const gateway = createGateway({ config, log: options.log, serveMetrics: !separateMetrics });
  const server = createServer(gateway.yoga);
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, options.port ?? 4000, host);
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
  const log = gateway.log;

  const reload = async (): Promise<boolean> => {
    if (!options.configPath) {
      log.warn('reload asked for, but there is no config file (sandbox mode)');
      return false;
    }
    try {
      await gateway.reload(loadConfigFile(options.configPath));
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
      const timer = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(timer);
      await gateway.close();
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
  try {
    const port = parsePort(args.port);
    const config = args.config ? loadConfigFile(args.config) : (sandbox = await startSandbox()).config;
    running = await startKeygate({ config, port, host: args.host, log, configPath: args.config });
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
  else console.log(`keygate listening on ${running.url}`);
}

function printSandbox(url: string, sandbox: RunningSandbox): void {
  const lines = [
    '',
    `keygate (sandbox mode) — GraphiQL at ${url}`,
    'Every provider below is an in-process simulator on 127.0.0.1; nothing leaves this machine.',
    '',
  ];
  for (const [kind, s] of sandbox.sandboxes) {
    lines.push(`  ${kind.padEnd(7)} demo keys: ${s.demoKeyIds.join(', ')}`);
    lines.push(`          ${s.exampleMutation(kind)}`);
  }
  lines.push('', 'Run with --config FILE to talk to real vendors (see README).', '');
  console.log(lines.join('\n'));
}

if (import.meta.main) {
  await main(process.argv.slice(2));
}
