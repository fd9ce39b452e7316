/**
 * keygate as a child process for the benchmark and the profiler: started with a config file on a
 * free port; resolves once it says where it listens. Its later output is drained unread.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export async function startGatewayProcess(configFile: string, nodeFlags: readonly string[] = [], env: Record<string, string> = {}): Promise<{ child: ChildProcess; origin: string }> {
  const child = spawn(process.execPath, [...nodeFlags, 'src/server.ts', '--config', configFile, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', NODE_ENV: 'production' },
  });
  const origin = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d;
      const m = /listening on (http:\/\/[^/\s]+)/.exec(out);
      if (m) {
        // Stop collecting: searching all the logs again on every chunk once cost the load
        // generator more than the gateway's answers did.
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`keygate exited (${code}) before listening:\n${out}`)));
  });
  return { child, origin };
}
