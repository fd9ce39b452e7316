import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { digestAuthorization, parseDigestChallenge, type DigestChallenge } from '../src/upstream/digest.ts';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** `name=value` pairs of an Authorization header, unquoted. */
function fields(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of header.replace(/^Digest /, '').matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) out[m[1]] = m[2] ?? m[3];
  return out;
}

describe('digestAuthorization', () => {
  // RFC 2617 §3.5: the worked example with its published response hash.
  const rfc: DigestChallenge = {
    realm: 'testrealm@host.com',
    nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
    qop: 'auth,auth-int',
    algorithm: 'MD5',
    opaque: '5ccc069c403ebaf9f0171e9517f40e41',
    stale: false,
  };

  it('matches the RFC 2617 §3.5 example', () => {
    const header = digestAuthorization({
      username: 'Mufasa',
      password: 'Circle Of Life',
      method: 'GET',
      uri: '/dir/index.html',
      challenge: rfc,
      nc: 1,
      cnonce: '0a4f113b',
    });
    expect(header.startsWith('Digest ')).toBe(true);
    expect(fields(header)).toEqual({
      username: 'Mufasa',
      realm: 'testrealm@host.com',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      uri: '/dir/index.html',
      algorithm: 'MD5',
      response: '6629fae49393a05397450978507c4ef1',
      qop: 'auth',
      nc: '00000001',
      cnonce: '0a4f113b',
      opaque: '5ccc069c403ebaf9f0171e9517f40e41',
    });
  });

  it('formats nc as 8 hex digits and hashes the uri with its query', () => {
    const challenge: DigestChallenge = { realm: 'MMS Public API', nonce: 'n1', algorithm: 'MD5', qop: 'auth', stale: false };
    const uri = '/api/atlas/v1.0/orgs/o/apiKeys?pageNum=2';
    const header = digestAuthorization({ username: 'pub', password: 'priv', method: 'patch', uri, challenge, nc: 255, cnonce: 'c' });
    const f = fields(header);
    expect(f.nc).toBe('000000ff');
    expect(f.uri).toBe(uri);
    expect(f.opaque).toBeUndefined();
    const expected = md5(`${md5('pub:MMS Public API:priv')}:n1:000000ff:c:auth:${md5(`PATCH:${uri}`)}`);
    expect(f.response).toBe(expected);
  });

  it('refuses a nonce count outside 1..ffffffff', () => {
    const challenge: DigestChallenge = { realm: 'r', nonce: 'n', algorithm: 'MD5', stale: false };
    const base = { username: 'u', password: 'p', method: 'GET', uri: '/', challenge, cnonce: 'c' };
    expect(() => digestAuthorization({ ...base, nc: 0 })).toThrow(RangeError);
    expect(() => digestAuthorization({ ...base, nc: 2 ** 32 })).toThrow(RangeError);
  });
});

describe('parseDigestChallenge', () => {
  it('reads Atlas\'s documented challenge, treating op="auth" as qop', () => {
    const c = parseDigestChallenge('Digest realm="MMS Public API", domain="", nonce="abc+/=123", algorithm=MD5, op="auth", stale=false');
    expect(c).toEqual({ realm: 'MMS Public API', nonce: 'abc+/=123', qop: 'auth', algorithm: 'MD5', stale: false });
  });

  it('reads stale=true, opaque and unquoted values, ignoring extra params', () => {
    const c = parseDigestChallenge('digest realm=api,nonce=xyz, qop="auth,auth-int", opaque="o\\"q", stale=TRUE, charset=UTF-8, userhash=false');
    expect(c).toEqual({ realm: 'api', nonce: 'xyz', qop: 'auth,auth-int', algorithm: 'MD5', opaque: 'o"q', stale: true });
  });

  it('accepts a challenge without algorithm and finds Digest after another scheme', () => {
    expect(parseDigestChallenge('Digest realm="r", nonce="n"')).toEqual({ realm: 'r', nonce: 'n', algorithm: 'MD5', stale: false });
    expect(parseDigestChallenge('Basic realm="b", Digest realm="r", nonce="n", qop="auth"')).toMatchObject({ realm: 'r', nonce: 'n', qop: 'auth' });
  });

  it('refuses other schemes, other algorithms, auth-int only, and a missing nonce', () => {
    expect(parseDigestChallenge('Basic realm="r"')).toBeUndefined();
    expect(parseDigestChallenge('Bearer realm="r", nonce="n"')).toBeUndefined();
    expect(parseDigestChallenge('Digest realm="r", nonce="n", algorithm=SHA-256')).toBeUndefined();
    expect(parseDigestChallenge('Digest realm="r", nonce="n", algorithm=MD5-sess')).toBeUndefined();
    expect(parseDigestChallenge('Digest realm="r", nonce="n", qop="auth-int"')).toBeUndefined();
    expect(parseDigestChallenge('Digest realm="r"')).toBeUndefined();
    expect(parseDigestChallenge('')).toBeUndefined();
  });
});
