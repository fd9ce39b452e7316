/**
 * The CLI entry: parse flags, load the config (or start the sandbox), listen, shut down gracefully.
 *
 *   npm start                                  sandbox mode: simulators of every vendor, no config
 *   npm start -- --config FILE [--port N] [--host H]
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile, type Config } from './config.ts';
import { createGateway, type Gateway } from './gateway.ts';
import { createLogger, type Logger } from './log.ts';
import { startSandbox, type RunningSandbox } from './sandbox.ts';

export interface KeygateOptions {
  config: Config;
  port?: number;
  host?: string;
  log?: Logger;
}

export interface RunningKeygate {
  /** http://HOST:PORT/graphql */
  url: string;
  gateway: Gateway;
  server: Server;
  close(): Promise<void>;
}

const SHUTDOWN_GRACE_MS = 10_000;

/** Starts keygate on host:port (port 0 picks a free one). */
export async function startKeygate(options: KeygateOptions): Promise<RunningKeygate> {
  const gateway = createGateway({ config: options.config, log: options.log });
  const server = createServer(gateway.yoga);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4000, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/graphql`,
    gateway,
    server,
    close: async () => {
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

function usage(): string {
  return [
    'usage: npm start [-- --config FILE] [--port N] [--host H]',
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
  let args: { config?: string; port?: string; host?: string; help?: boolean };
  try {
    args = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
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

  const log = createLogger();
  let sandbox: RunningSandbox | undefined;
  let running: RunningKeygate;
  try {
    const port = parsePort(args.port);
    const config = args.config ? loadConfigFile(args.config) : (sandbox = await startSandbox()).config;
    running = await startKeygate({ config, port, host: args.host, log });
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
