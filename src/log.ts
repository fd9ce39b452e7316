/**
 * Structured JSON logs (pino). Credentials are redacted by configuration: any header or field
 * that can hold one is censored by path, and call sites log only method, path, status, vendor
 * code and trace id, never headers or bodies.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'headers["admin-auth"]',
  'req.headers.authorization',
  '*.token',
  '*.adminSecret',
  '*.privateKey',
  '*.password',
  '*.secret',
  // Caller credentials and the audit database's connection string.
  'token',
  'password',
  'secret',
  'cookie',
  'headers.cookie',
  'req.headers.cookie',
  '*.authorization',
  '*.headers.authorization',
  '*.sha256',
  'postgres',
  '*.postgres',
  'connectionString',
  '*.connectionString',
];

export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { service: 'keygate' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    // stdout, written asynchronously: lines that pile up while a write is in flight go out in one
    // write, and a slow reader of the pipe never blocks the event loop. pino flushes it at exit.
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
