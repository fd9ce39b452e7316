/**
 * The keys console (`server.console: true`): the React app built from console/ into console/dist
 * (by `npm install`'s `prepare`), served at /console on the main port, same origin as /graphql.
 *
 * Every file is read once at start-up into memory (and gzipped once), so a request never touches
 * the file system: a path is either one of the built files or a deep link, answered with
 * index.html (the app routes it). Every answer carries a strict CSP (no inline script, no eval,
 * no framing) and `Referrer-Policy: no-referrer`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../observability/log.ts';

export const CONSOLE_PATH = '/console';

/** What the console's pages may load: only keygate itself; styles and scripts from files only. */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONSOLE_CSP,
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

interface Asset {
  type: string;
  body: Uint8Array;
  gzipped?: Uint8Array;
  /** Vite names hashed files under assets/: they never change, so they may be cached for good. */
  immutable: boolean;
}

/** console/dist, found from the project root (the nearest folder up holding package.json). */
export function consoleDistDir(from: string = import.meta.dirname): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'console', 'dist');
}

/** Every file under `dir`, keyed by its URL path below /console (`/assets/index-abc.js`). */
export function loadConsoleAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(join(dir, 'index.html'))) return assets;
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const name = `/${relative(dir, path).split(sep).join('/')}`;
        const body = readFileSync(path);
        const type = CONTENT_TYPES[extname(name)] ?? 'application/octet-stream';
        const compressible = /^text\/|javascript|json|svg/.test(type) && body.length > 1024;
        assets.set(name, { type, body, gzipped: compressible ? gzipSync(body) : undefined, immutable: name.startsWith('/assets/') });
      }
    }
  };
  walk(dir);
  return assets;
}

export interface ConsoleOptions {
  log: Logger;
  /** Where the built console is (default: console/dist of this project). */
  dir?: string;
  /** Key ids to suggest per provider (sandbox: the demo keys), served as /console/key-hints.json. */
  keyHints?: Record<string, string[]>;
}

/** Serves the console at /console: GET and HEAD only, deep links answered with index.html. */
export function useConsole(options: ConsoleOptions): Plugin {
  const dir = options.dir ?? consoleDistDir();
  const assets = loadConsoleAssets(dir);
  const hints = new TextEncoder().encode(JSON.stringify(options.keyHints ?? {}));
  assets.set('/key-hints.json', { type: CONTENT_TYPES['.json'], body: hints, immutable: false });
  if (!assets.has('/index.html'))
    options.log.warn({ dir }, 'server.console is on but the console is not built (run `npm run build:console`); /console answers 503');
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      const { pathname } = url;
      if (pathname !== CONSOLE_PATH && !pathname.startsWith(`${CONSOLE_PATH}/`)) return;
      const respond = (status: number, body: Uint8Array | string | null, headers: Record<string, string>) =>
        endResponse(
          new fetchAPI.Response(request.method === 'HEAD' ? null : (body as BodyInit | null), { status, headers: { ...SECURITY_HEADERS, ...headers } }),
        );
      if (request.method !== 'GET' && request.method !== 'HEAD')
        return respond(405, 'method not allowed', { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      if (!assets.has('/index.html'))
        return respond(503, 'the console is not built: run `npm run build:console`', { 'content-type': 'text/plain; charset=utf-8' });
      const sub = pathname.slice(CONSOLE_PATH.length) || '/';
      let asset = assets.get(sub);
      // A deep link (/console/providers/tyk/keys/abc) is the app's to route; a missing file is a 404.
      if (!asset && (sub.startsWith('/assets/') || /\.[a-z0-9]+$/i.test(sub)))
        return respond(404, 'not found', { 'content-type': 'text/plain; charset=utf-8' });
      asset ??= assets.get('/index.html')!;
      const gzip = asset.gzipped && /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '');
      const body = gzip ? asset.gzipped! : asset.body;
      return respond(200, body, {
        'content-type': asset.type,
        'content-length': String(body.byteLength),
        'cache-control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        vary: 'accept-encoding',
        ...(gzip && { 'content-encoding': 'gzip' }),
      });
    },
  };
}
