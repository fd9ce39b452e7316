/**
 * The pure checks behind "nothing is sent as anything but what the client asked": value walk,
 * id check, the audit's escaping, the Tyk list→map conversion and the Tyk expiry.
 */
import { describe, expect, it } from 'vitest';
import { tykAdapter, tykExpires } from '../providers/tyk/adapter.ts';
import { patchForRecord } from '../src/core/run-operation.ts';
import { redactBody } from '../src/core/redact.ts';
import { toApiKeyPatch } from '../src/operations/update-api-key.fields.ts';
import { recordableText, idProblem, valueProblems } from '../src/core/validate.ts';

describe('valueProblems', () => {
  it('passes an ordinary patch, astral characters and constructor/prototype keys', () => {
    expect(
      valueProblems({ name: 'a 🔑', setTags: [{ key: 'constructor', value: null }], tyk: { meta_data: { prototype: { toString: 1.5 } }, rate: 0 } }),
    ).toEqual([]);
  });

  it('names every non-finite number by its path', () => {
    const tyk = { rate: Infinity, meta_data: { x: [1, { y: Number.NEGATIVE_INFINITY }], 'a b': Number.NaN } };
    expect(valueProblems({ tyk }).map((p) => p.field)).toEqual(['tyk.rate', 'tyk.meta_data.x[1].y', 'tyk.meta_data["a b"]']);
  });

  it('names ill-formed strings and keys, lone high or low surrogates alike', () => {
    const problems = valueProblems({ name: 'a\ud800', roles: ['\udc00'], tyk: { meta_data: { 'k\udbff': 'v' } } });
    expect(problems.map((p) => p.field)).toEqual(['name', 'roles[0]', 'tyk.meta_data["k\\udbff"]']);
    expect(problems[0].message).toContain('well-formed Unicode');
  });

  it('refuses "__proto__" as an own key at any depth, also in a null-prototype object', () => {
    const map = Object.create(null);
    // biome-ignore lint/suspicious/noProto: on a null-prototype object this makes an own key "__proto__", the input under test.
    map.__proto__ = { api_id: '__proto__' };
    const meta = JSON.parse('{"a":{"__proto__":1}}');
    expect(valueProblems({ tyk: { access_rights: map, meta_data: meta } }).map((p) => p.field)).toEqual([
      'tyk.access_rights["__proto__"]',
      'tyk.meta_data.a["__proto__"]',
    ]);
  });

  it('refuses tag keys named twice, set and removed, or "__proto__"', () => {
    const problems = valueProblems({ setTags: [{ key: 'a' }, { key: 'a' }, { key: '__proto__' }], removeTags: ['b', 'b', 'a'] });
    expect(problems.map((p) => `${p.field}: ${p.message}`)).toEqual([
      'setTags[1].key: tag "a" appears more than once',
      expect.stringMatching(/^setTags\[2\]\.key: must not be "__proto__"/),
      'removeTags[1]: tag "b" appears more than once',
      'removeTags[2]: tag "a" is both set and removed',
    ]);
  });
});

describe('idProblem and recordableText', () => {
  it('refuses a lone surrogate in an id, keeps a surrogate pair', () => {
    expect(idProblem('x\ud800')).toContain('well-formed Unicode');
    expect(idProblem('\udc00x')).toContain('well-formed Unicode');
    expect(idProblem('key-😀')).toBeUndefined();
  });

  it('writes each lone surrogate and NUL as \\uXXXX text and leaves other text alone', () => {
    expect(recordableText('x\ud800y\udfff')).toBe('x\\ud800y\\udfff');
    expect(recordableText('😀\ud83d')).toBe('😀\\ud83d');
    expect(recordableText('plain')).toBe('plain');
    expect(recordableText('a\u0000b')).toBe('a\\u0000b');
  });
});

describe('the audit record of a patch', () => {
  it('keeps lone surrogates and non-finite numbers recognisable instead of U+FFFD and null', () => {
    const record = patchForRecord({ name: 'n\udc00', tyk: { rate: Infinity, meta_data: { 'k\ud800': Number.NaN } } }, []);
    expect(record).toEqual({ name: 'n\\udc00', tyk: { rate: 'Infinity', meta_data: { 'k\\ud800': 'NaN' } } });
    expect(JSON.stringify(record).isWellFormed()).toBe(true);
  });
});

describe('Tyk list→map conversion', () => {
  it('keeps every api_id as an own key, "__proto__" included, so the central check sees it', () => {
    const patch = toApiKeyPatch({ tyk: { access_rights: [{ api_id: '__proto__', api_name: 'evil' }, { api_id: 'constructor' }] } });
    const rights = patch.tyk!.access_rights as Record<string, unknown>;
    expect(Object.keys(rights)).toEqual(['__proto__', 'constructor']);
    expect(JSON.parse(JSON.stringify(rights))).toEqual(
      JSON.parse('{"__proto__":{"api_id":"__proto__","api_name":"evil"},"constructor":{"api_id":"constructor"}}'),
    );
  });

  it('refuses an oauth_keys key given twice instead of keeping the last', () => {
    expect(() =>
      toApiKeyPatch({
        tyk: {
          oauth_keys: [
            { key: 'k', value: '1' },
            { key: 'k', value: '2' },
          ],
        },
      }),
    ).toThrow('patch.tyk.oauth_keys[1].key');
  });
});

describe('redactBody', () => {
  it('keeps a "__proto__" key of a vendor body in the answer', () => {
    const body = JSON.parse('{"meta_data":{"__proto__":{"a":1},"b":2}}');
    expect(JSON.stringify(redactBody(body, [], []))).toBe('{"meta_data":{"__proto__":{"a":1},"b":2}}');
  });
});

describe('Tyk expires', () => {
  it('rounds down to whole unix seconds', () => {
    expect(tykExpires(new Date('2030-01-01T00:00:00.999Z'))).toBe(1893456000);
    expect(tykExpires(new Date('1970-01-01T00:00:01Z'))).toBe(1);
  });

  it('refuses any time that would be sent as 0 or less', () => {
    for (const at of ['1970-01-01T00:00:00.999Z', '1969-12-31T23:59:59.999Z', '0001-01-01T00:00:00Z'])
      expect(
        tykAdapter.validate({ expiresAt: new Date(at) }).map((p) => p.field),
        at,
      ).toEqual(['expiresAt']);
    expect(tykAdapter.validate({ expiresAt: new Date('1970-01-01T00:00:01Z') })).toEqual([]);
  });
});
