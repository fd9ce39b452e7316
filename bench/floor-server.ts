/**
 * The benchmark's reference floor: a hand-written graphql-yoga server with one mutation that
 * PATCHes a Mesa key, and nothing else (no auth, audit, validation, resilience, metrics or logs).
 * `npm run bench` runs it beside keygate in the same run, so keygate's cost is read against what
 * the fixed stack costs at its barest:
 *
 *   --client undici  the resolver calls the vendor with `undici.request` over a keep-alive Agent
 *                    (the floor keygate's CPU per mutation is read against);
 *   --client ky      through keygate's own upstream client (src/upstream/client.ts: ky over its
 *                    undici pool), called directly: the cost of that layer alone.
 *
 * It also answers `apiKeys(provider, first)` from a list of `--list N` keys held in memory (shaped
 * like the Tyk keys of the polling measurement): the floor a cached keygate read is read against.
 *
 * `node bench/floor-server.ts --upstream URL --token T --client undici|ky [--port N] [--list N]`; prints
 * "listening on http://…" like keygate does. Not part of keygate: a measuring tool only.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { createSchema, createYoga } from 'graphql-yoga';
import { Agent, request } from 'undici';
import { createUpstreamClient } from '../src/upstream/client.ts';

const { values: flags } = parseArgs({
  options: {
    upstream: { type: 'string' },
    token: { type: 'string' },
    client: { type: 'string' },
    port: { type: 'string' },
    list: { type: 'string' },
  },
});
if (!flags.upstream || !flags.token || (flags.client !== 'undici' && flags.client !== 'ky'))
  throw new Error('usage: floor-server.ts --upstream URL --token T --client undici|ky [--port N] [--list N]');
const { upstream, token } = flags;

/** PATCHes the key's `owner` tag; the vendor's status and parsed JSON body. */
type Patch = (id: string, owner: string) => Promise<{ status: number; json: unknown }>;

function undiciPatch(): Patch {
  const agent = new Agent({ connections: 32, keepAliveTimeout: 10_000 });
  const headers = { accept: 'application/json', 'content-type': 'application/json', authorization: `Bearer ${token}` };
  return async (id, owner) => {
    const res = await request(`${upstream}/v1/acme/api-keys/${encodeURIComponent(id)}`, {
      method: 'PATCH',
      headers,
      body: JSON.stringify({ tags: { owner } }),
      dispatcher: agent,
    });
    return { status: res.statusCode, json: await res.body.json() };
  };
}

/**
 * keygate's own upstream client (src/upstream/client.ts: ky over an undici pool), called directly
 * and as keygate calls it: with a per-call deadline signal (src/upstream/resilience.ts makes one).
 */
function clientPatch(): Patch {
  const client = createUpstreamClient({ baseUrl: `${upstream}/v1`, auth: { type: 'bearer', token: token as string }, timeoutMs: 10_000 });
  return async (id, owner) => {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new Error('deadline')), 10_000);
    try {
      const res = await client.send(
        { method: 'PATCH', path: `/acme/api-keys/${encodeURIComponent(id)}`, body: { tags: { owner } } },
        { signal: deadline.signal },
      );
      return { status: res.status, json: res.json };
    } finally {
      clearTimeout(timer);
    }
  };
}

const patch = flags.client === 'undici' ? undiciPatch() : clientPatch();
// The in-memory key list `apiKeys` serves: ids and names as long as the polling measurement's.
const fetchedAt = new Date().toISOString();
const keys = Array.from({ length: Number(flags.list ?? 0) }, (_, i) => ({
  id: `5e9d9544a1dcd60001d0ed20${String(i).padStart(32, '0')}`,
  name: `k${i}`,
  fetchedAt,
}));
const yoga = createYoga({
  schema: createSchema({
    typeDefs: `type ApiKey { id: ID! name: String fetchedAt: String }
      type ApiKeyEdge { node: ApiKey! }
      type ApiKeyConnection { edges: [ApiKeyEdge!]! }
      type Query { apiKeys(provider: String!, first: Int!): ApiKeyConnection! }
      type Mutation { updateApiKey(id: ID!, owner: String!): ApiKey! }`,
    resolvers: {
      Query: {
        apiKeys: (_: unknown, args: { first: number }) => ({ edges: keys.slice(0, args.first).map((node) => ({ node })) }),
      },
      Mutation: {
        updateApiKey: async (_: unknown, args: { id: string; owner: string }) => {
          const { status, json } = await patch(args.id, args.owner);
          if (status !== 200) throw new Error(`upstream answered ${status}`);
          // Mesa answers a PATCH with the key's tags only.
          return { id: args.id, ...(json as { tags: Record<string, string> }) };
        },
      },
    },
  }),
  landingPage: false,
  graphiql: false,
  logging: false,
});
const server = createServer(yoga);
server.listen(Number(flags.port ?? 0), '127.0.0.1', () => {
  const address = server.address() as { port: number };
  console.log(`floor (${flags.client}) listening on http://127.0.0.1:${address.port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
