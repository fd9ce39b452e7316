/**
 * The edge's pure logic: the duplicate-key scanner, the list-aware cost (equal to graphql-armor's
 * where no list argument is given), credential parameter names, media types, and the config.
 */
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { isCredentialParam } from '../src/auth/callers.ts';
import { ConfigError, resolveConfig } from '../src/config/schema.ts';
import { findDuplicateKey } from '../src/http/json-duplicates.ts';
import { operationCost } from '../src/http/plugins/cost-limit.ts';
import { parseMediaType } from '../src/http/plugins/request-parser.ts';
import { schema } from '../src/graphql/schema.ts';

describe('findDuplicateKey', () => {
  it.each([
    ['{"a":1,"a":2}', { at: '', key: 'a' }],
    ['{"a":{"b":1,"c":{"d":[1,{"e":1,"e":2}]}}}', { at: 'a.c.d[1]', key: 'e' }],
    ['[{"a":1},{"b":1,"b":1}]', { at: '[1]', key: 'b' }],
    ['{"k\\u0065y":1,"key":2}', { at: '', key: 'key' }],
    ['{"x":"\\"a\\":1,\\"a\\":2","a":{"q":"}","q":1}}', { at: 'a', key: 'q' }],
  ])('finds the duplicate in %s', (json, found) => {
    expect(findDuplicateKey(json)).toEqual(found);
  });

  it.each([
    '{}',
    '[]',
    '"a"',
    '1',
    '{"a":{"a":{"a":1}},"b":["a","a"]}',
    '{"a":1,"b":{"a":1},"c":[{"a":1},{"a":1}]}',
    '{"a\\\\":1,"a":2}',
    '{ "a" : 1 , "b" : [ { "a" : 1 } ] }',
  ])('finds none in %s', (json) => {
    JSON.parse(json);
    expect(findDuplicateKey(json)).toBeUndefined();
  });
});

describe('operationCost', () => {
  /** graphql-armor's own cost of `query` (maxCost 0 makes every query report it). */
  const armorCost = (query: string): number => {
    let message = '';
    const rule = costLimitRule({
      maxCost: 0,
      propagateOnRejection: false,
      onReject: [
        (_ctx, err) => {
          message = err.message;
        },
      ],
    });
    validate(schema, parse(query), [rule]);
    return Number.parseFloat(message.split('found ')[1]);
  };
  it.each([
    '{ providers { name kind operations } }',
    '{ a: providers { name } b: providers { name patchFields } }',
    '{ apiKeys(provider: "x", first: 10) { edges { cursor node { id name } } pageInfo { hasNextPage } } }',
    'query { ...P ... on Query { providers { name } } } fragment P on Query { providers { name kind } }',
    '{ __schema { types { name } } providers { name } }',
  ])('equals graphql-armor without list arguments: %s', (query) => {
    expect(operationCost(parse(query), undefined, {})).toBe(armorCost(query));
  });

  it('multiplies a field by its longest list argument, literal or variable', () => {
    const one = operationCost(parse('mutation { updateApiKeys(updates: [{ provider: "a", id: "1", patch: {} }]) { id } }'), undefined, {});
    expect(operationCost(parse('mutation($u: [ApiKeyUpdateInput!]!) { updateApiKeys(updates: $u) { id } }'), undefined, { u: new Array(30).fill({}) })).toBe(
      30 * one,
    );
    expect(operationCost(parse(`mutation { updateApiKeys(updates: [${'{ provider: "a", id: "1", patch: {} }, '.repeat(30)}]) { id } }`), undefined, {})).toBe(
      30 * one,
    );
    // Only the operation selected counts.
    expect(
      operationCost(parse('query A { providers { name } } mutation B($u: [ApiKeyUpdateInput!]!) { updateApiKeys(updates: $u) { id } }'), 'A', {
        u: new Array(30).fill({}),
      }),
    ).toBe(operationCost(parse('{ providers { name } }'), undefined, {}));
  });
});

describe('isCredentialParam', () => {
  it.each([
    'key',
    'KEY',
    'x-api-key',
    'X_Api_Key',
    'apiKey',
    'api.key',
    'access_token',
    'access-token',
    'id_token',
    'refresh_token',
    'token',
    'client_secret',
    'secret',
    'password',
    'db_password',
    'passwd',
    'sig',
    'signature',
    'auth',
    'authorization',
    'bearer',
    'jwt',
    'session',
    'sessionId',
    'credentials',
  ])('%s is one', (name) => {
    expect(isCredentialParam(name)).toBe(true);
  });
  it.each(['query', 'variables', 'operationName', 'extensions', 'keyword', 'monkey', 'page', 'tokenizer', 'authors', 'signal'])('%s is not', (name) => {
    expect(isCredentialParam(name)).toBe(false);
  });
});

describe('parseMediaType', () => {
  it.each([
    ['APPLICATION/JSON', { essence: 'application/json', charset: undefined }],
    [' application/json ; charset="UTF-8" ', { essence: 'application/json', charset: 'utf-8' }],
    ['application/json;foo=bar;CHARSET=Latin1', { essence: 'application/json', charset: 'latin1' }],
    ['application/json, text/plain', { essence: 'application/json', charset: undefined }],
  ])('%j', (header, expected) => {
    expect(parseMediaType(header)).toEqual(expected);
  });
  it('is undefined without a header', () => expect(parseMediaType(null)).toBeUndefined());
});

describe('config: server timeouts and connections, limits.maxUpdatesPerRequest', () => {
  const problems = (doc: Record<string, unknown>): string[] => {
    try {
      resolveConfig({ providers: { b: { kind: 'basic', project: 'p', token: 'tttttttttttttttt' } }, audit: false, ...doc });
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
  };
  it('has defaults', () => {
    const c = resolveConfig({ providers: { b: { kind: 'basic', project: 'p', token: 'tttttttttttttttt' } }, audit: false });
    expect(c.server).toMatchObject({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, maxConnections: 1024 });
    expect(c.limits.maxUpdatesPerRequest).toBe(100);
  });
  it.each([
    [{ server: { requestTimeoutMs: 50 } }, 'server.requestTimeoutMs: '],
    [{ server: { headersTimeoutMs: 'x' } }, 'server.headersTimeoutMs: '],
    [{ server: { keepAliveTimeoutMs: 0 } }, 'server.keepAliveTimeoutMs: '],
    [{ server: { maxConnections: 0 } }, 'server.maxConnections: '],
    [{ server: { headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 } }, 'server.headersTimeoutMs: must not exceed server.requestTimeoutMs'],
    [{ limits: { maxUpdatesPerRequest: 0 } }, 'limits.maxUpdatesPerRequest: '],
    [{ limits: { maxUpdatesPerRequest: 1.5 } }, 'limits.maxUpdatesPerRequest: '],
  ])('refuses %j naming the path', (doc, message) => {
    expect(problems(doc).join('\n')).toContain(message);
  });
});
