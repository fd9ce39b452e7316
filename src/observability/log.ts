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

type Level = 'debug' | 'info' | 'warn' | 'error';

/** What per-request code logs through: a line of fields and a message, at one of four levels. */
export type RequestLog = Record<Level, (fields: object, message: string) => void>;

/**
 * A request's logger: lines carry its bindings (request id, caller). pino's `child()` redacts and
 * serialises the bindings when called, so the child is made only when a line at an enabled level
 * is first written — most requests at `warn` write none.
 */
export class LazyChildLog implements RequestLog {
  #child: Logger | undefined;
  readonly #base: Logger;
  readonly #bindings: Record<string, unknown>;
  constructor(base: Logger, bindings: Record<string, unknown>) {
    this.#base = base;
    this.#bindings = bindings;
  }
  #write(level: Level, fields: object, message: string): void {
    if (!this.#base.isLevelEnabled(level)) return;
    this.#child ??= this.#base.child(this.#bindings);
    this.#child[level](fields, message);
  }
  debug(fields: object, message: string): void {
    this.#write('debug', fields, message);
  }
  info(fields: object, message: string): void {
    this.#write('info', fields, message);
  }
  warn(fields: object, message: string): void {
    this.#write('warn', fields, message);
  }
  error(fields: object, message: string): void {
    this.#write('error', fields, message);
  }
}
