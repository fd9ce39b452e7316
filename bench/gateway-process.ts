/**
 * keygate (or the benchmark's reference floor, bench/floor-server.ts) as a child process for
 * the benchmark and the profiler: started on a free port; resolves once it says where it listens.
 * Its later output is drained unread.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export function startGatewayProcess(
  configFile: string,
  nodeFlags: readonly string[] = [],
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; origin: string }> {
  return startListeningProcess('src/main.ts', ['--config', configFile, '--port', '0'], nodeFlags, env);
}

export async function startListeningProcess(
  script: string,
  args: readonly string[],
  nodeFlags: readonly string[] = [],
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; origin: string }> {
  const child = spawn(process.execPath, [...nodeFlags, script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', NODE_ENV: 'production' },
  });
  const origin = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d;
      const m = /listening on (http:\/\/[^/\s]+)/.exec(out);
      if (m) {
        // Found: later output is drained unsearched, so the load generator's process does not
        // rescan a growing log on every chunk.
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${script} exited (${code}) before listening:\n${out}`)));
  });
  return { child, origin };
}
