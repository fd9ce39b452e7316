/**
 * The CLI: parse flags, load the config (or start the sandbox), listen, handle signals.
 *
 *   npm start                                  sandbox mode: simulators of every vendor, no config
 *   npm start -- --config FILE [--port N] [--host H]
 *   npm start -- --check-config FILE
 */
import { parseArgs } from 'node:util';
import { stringify as toYaml } from 'yaml';
import type { RunningSandbox } from '../sandbox/start.ts';
import { startKeygate, type RunningKeygate } from './app.ts';
import { ConfigError, type Config } from './config/schema.ts';
import { loadConfigFile } from './config/load.ts';
import { describeConfig } from './config/describe.ts';
import { createLogger } from './observability/log.ts';

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
    let config: Config;
    if (args.config) config = loadConfigFile(args.config);
    else {
      sandbox = await (await import('../sandbox/start.ts')).startSandbox();
      config = sandbox.config;
    }
    open = !config.auth;
    running = await startKeygate({
      config,
      port,
      host: args.host,
      log,
      configPath: args.config,
      sandbox: sandbox !== undefined,
      graphiqlDefaultQuery: sandbox && (await import('../sandbox/start.ts')).sandboxExamples(sandbox),
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
  if (sandbox) (await import('../sandbox/start.ts')).printSandbox(running.url, sandbox);
  else console.log(`keygate listening on ${running.url}${open ? ' (no `auth` section: loopback only, every caller holds every scope)' : ''}`);
}

if (import.meta.main) {
  await main(process.argv.slice(2));
}
