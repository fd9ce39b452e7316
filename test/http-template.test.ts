/** The declarative engine's template language and limits, in-process (providers/http/template.ts, engine.ts). */
import { describe, expect, it } from 'vitest';
import { compileTemplate, TemplateProblems } from '../providers/http/template.ts';
import { type DefinitionError, httpAdapter, validatePatch } from '../providers/http/engine.ts';
import { z } from 'zod';

const compile = (t: unknown, roots = ['patch', 'current', 'id', 'config']) => {
  const problems = new TemplateProblems();
  const c = compileTemplate(t, 'at', roots, problems);
  return { c, problems: problems.list };
};
const run = (t: unknown, scope: Record<string, unknown>) => {
  const { c, problems } = compile(t);
  expect(problems).toEqual([]);
  return c.evaluate(scope);
};

describe('templates', () => {
  it('keeps the type of a whole placeholder and interpolates inside text', () => {
    expect(run('{{ patch.roles }}', { patch: { roles: ['a', 'b'] } })).toEqual(['a', 'b']);
    expect(run('Bearer {{ config.token }}', { config: { token: 't' } })).toBe('Bearer t');
    expect(run('n={{ patch.n }}', { patch: { n: 3 } })).toBe('n=3');
  });

  it('leaves out absent fields and list items; null stays', () => {
    expect(run({ a: '{{ patch.a }}', b: '{{ patch.b }}', c: 'lit', d: ['{{ patch.x }}', 1] }, { patch: { b: null } })).toEqual({ b: null, c: 'lit', d: [1] });
    expect(run('x {{ patch.missing }}', { patch: {} })).toBeUndefined();
  });

  it('?? picks the first present value; filters bind tighter', () => {
    expect(run('{{ patch.name ?? current.name }}', { patch: {}, current: { name: 'old' } })).toBe('old');
    expect(run('{{ patch.at | iso ?? current.at }}', { patch: { at: new Date('2026-01-02T03:04:05Z') }, current: {} })).toBe('2026-01-02T03:04:05.000Z');
    expect(run('{{ patch.flag | not }}', { patch: { flag: true } })).toBe(false);
    expect(run('{{ patch.m | entries }}', { patch: { m: { a: '1' } } })).toEqual([{ key: 'a', value: '1' }]);
    expect(run("{{ patch.none ?? 'fallback' }}", { patch: {} })).toBe('fallback');
    expect(run('{{ patch.list[1] }}', { patch: { list: ['a', 'b'] } })).toBe('b');
    expect(run('{{ current["odd key"] }}', { current: { 'odd key': 5 } })).toBe(5);
  });

  it('$value/$map translates, $merge overlays', () => {
    const status = { $value: '{{ patch.enabled }}', $map: { true: 'active', false: 'disabled' } };
    expect(run(status, { patch: { enabled: false } })).toBe('disabled');
    expect(run(status, { patch: {} })).toBeUndefined();
    expect(
      run({ $merge: ['{{ current }}', { name: '{{ patch.name }}', keep: '{{ patch.none }}' }] }, { current: { name: 'a', keep: 1 }, patch: { name: 'b' } }),
    ).toEqual({ name: 'b', keep: 1 });
  });

  it('never reaches a prototype, the environment or a function', () => {
    expect(run('{{ patch.constructor }}', { patch: {} })).toBeUndefined();
    expect(run('{{ patch.__proto__ }}', { patch: {} })).toBeUndefined();
    expect(run('{{ patch.name.length }}', { patch: { name: 'abc' } })).toBeUndefined();
    expect(compile('{{ process.env.HOME }}').problems).toEqual(['at: "process" is not available here (available: patch, current, id, config)']);
    expect(compile('{{ patch.name() }}').problems[0]).toMatch(/is not a path/);
    expect(compile('{{ patch.name | eval }}').problems[0]).toMatch(/unknown filter "eval"/);
  });

  it('refuses bad syntax, unknown operators, too deep or too big templates at compile time', () => {
    expect(compile('{{ }}').problems[0]).toMatch(/empty expression/);
    expect(compile('{{ patch.a').problems[0]).toMatch(/unbalanced/);
    expect(compile({ $eval: 'x' }).problems[0]).toMatch(/^at\.\$eval: unknown operator/);
    expect(compile('{{ "unterminated }}').problems[0]).toMatch(/unterminated string/);
    expect(compile(Array.from({ length: 2100 }, () => 1)).problems[0]).toMatch(/too big/);
  });
});

describe('engine definitions', () => {
  const minimal = { update: { method: 'PATCH', path: '/k/{{ id }}', body: { n: '{{ patch.name }}' } }, key: { id: '{{ key.id }}' }, patch: { name: {} } };
  const make = (def: unknown) => httpAdapter(def, { kind: 'http', at: 'providers.x', configSchema: z.object({}), secretConfigFields: [] });

  it('percent-encodes every path placeholder as one segment', () => {
    const a = make(minimal);
    expect(a.buildUpdate({ baseUrl: 'http://x' }, 'a:b é', { name: 'n' }).path).toBe('/k/a%3Ab%20%C3%A9');
  });

  it('POST updates are not idempotent unless said; idIsSecret is recorded', () => {
    expect(make(minimal).updateIdempotency.idempotent).toBe(true);
    expect(make({ ...minimal, update: { ...minimal.update, method: 'POST' } }).updateIdempotency).toMatchObject({
      idempotent: false,
      why: expect.stringContaining('POST'),
    });
    expect(make({ ...minimal, update: { ...minimal.update, method: 'POST' }, idempotent: true }).updateIdempotency.idempotent).toBe(true);
    expect(make(minimal).idIsSecret).toBeUndefined();
    expect(make({ ...minimal, idIsSecret: true }).idIsSecret?.({ baseUrl: 'http://x' })).toBe(true);
  });

  it('collects every problem with its path', () => {
    try {
      make({ ...minimal, update: { method: 'PATCH', path: 'k/{{ id }}' }, key: { id: '{{ nope.id }}' } });
      expect.unreachable();
    } catch (err) {
      expect((err as DefinitionError).problems).toEqual(['providers.x.update.path: must start with "/"']);
    }
    try {
      make({ ...minimal, key: { id: '{{ nope.id }}' }, list: { path: '/k', items: 'body..x' } });
      expect.unreachable();
    } catch (err) {
      expect((err as DefinitionError).problems).toEqual([
        'providers.x.list.items: "body..x" is not a path (write root.field.sub, root.list[0] or root["odd key"])',
        'providers.x.key.id: "nope" is not available here (available: key, id, body, sent)',
      ]);
    }
  });

  it('maps errors: vendor code table first, then the status table, then (in the gateway) the status', () => {
    const a = make({
      ...minimal,
      errors: { items: 'body.errs', code: 'error.c', message: 'error.m', field: 'error.f', codes: { gone: 'NOT_FOUND' }, statuses: { '402': 'FORBIDDEN' } },
    });
    const res = (status: number, json: unknown) => ({ status, json, text: JSON.stringify(json), headers: new Headers() });
    expect(a.mapError(res(400, { errs: [{ c: 'gone', m: 'deleted', f: 'id' }, { m: 'also' }] }))).toEqual({
      code: 'NOT_FOUND',
      vendorCode: 'gone',
      message: 'id: deleted; also',
    });
    expect(a.mapError(res(402, { errs: [{ c: 'quota', m: 'pay' }] }))).toEqual({ code: 'FORBIDDEN', vendorCode: 'quota', message: 'pay' });
    expect(a.mapError(res(500, 'not an object'))).toEqual({});
  });

  it('a next link keeps only its path and query, relative to the base URL', () => {
    const a = make({ ...minimal, list: { path: '/v2/keys', items: 'body.data', pagination: { type: 'nextLink', next: 'body.next' } } });
    const parsed = a.parseListPage!({ data: [{ id: 'k' }], next: 'https://evil.example/api/v2/keys?page_token=abc' }, undefined);
    expect(parsed?.next).toBe('/api/v2/keys?page_token=abc');
    expect(a.listPage!({ baseUrl: 'https://vendor.example/api' }, parsed!.next)).toEqual({ method: 'GET', path: '/v2/keys', query: { page_token: 'abc' } });
    expect(a.parseListPage!({ data: [{ id: 'k' }] }, undefined)?.next).toBeUndefined();
  });

  it('local limits name the field', () => {
    expect(validatePatch({ name: 'abcdef', roles: ['x', 'y'] }, { name: { maxLength: 3 }, roles: { allowed: ['x'], maxItems: 1 } })).toEqual([
      { field: 'name', message: 'must be at most 3 characters' },
      { field: 'roles', message: 'must hold at most 1 items' },
      { field: 'roles[1]', message: '"y" is not allowed (allowed: x)' },
    ]);
  });
});
