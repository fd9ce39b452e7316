/** The OAuth token cache (src/upstream/oauth.ts), in-process with fake time. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { UpstreamResponse } from '../providers/types.ts';
import { createTokenSource, parseTokenAnswer, TOKEN_EXPIRY_MARGIN_MS, tokenEndpointError, type TokenFetchResult } from '../src/upstream/oauth.ts';

const response = (status: number, json: unknown): UpstreamResponse => ({
  status,
  headers: new Headers(),
  json,
  text: JSON.stringify(json),
  tokenEndpoint: true,
});

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }));
afterEach(() => void vi.useRealTimers());

/** A token endpoint whose answers the test releases one by one. */
function endpoint(expiresInSec = 3600) {
  let n = 0;
  const waiting: ((r: TokenFetchResult) => void)[] = [];
  const fetch = vi.fn(() => new Promise<TokenFetchResult>((resolve) => waiting.push(resolve)));
  const answer = () => waiting.shift()!({ token: `t${++n}`, expiresInSec });
  return { fetch, answer };
}

describe('token source', () => {
  it('single-flights: 50 concurrent callers share one token request', async () => {
    const ep = endpoint();
    const source = createTokenSource({ fetch: ep.fetch });
    const all = Promise.all(Array.from({ length: 50 }, () => source.get()));
    await vi.advanceTimersByTimeAsync(0);
    expect(ep.fetch).toHaveBeenCalledTimes(1);
    ep.answer();
    expect(new Set((await all).map((r) => ('token' in r ? r.token : '')))).toEqual(new Set(['t1']));
  });

  it('reuses the token until the expiry margin, then fetches a new one', async () => {
    const ep = endpoint(3600);
    const source = createTokenSource({ fetch: ep.fetch });
    const first = source.get();
    ep.answer();
    expect(await first).toEqual({ token: 't1' });
    vi.advanceTimersByTime(3600_000 - TOKEN_EXPIRY_MARGIN_MS - 1);
    expect(await source.get()).toEqual({ token: 't1' });
    expect(ep.fetch).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    const renewed = source.get();
    await vi.advanceTimersByTimeAsync(0);
    ep.answer();
    expect(await renewed).toEqual({ token: 't2' });
    expect(ep.fetch).toHaveBeenCalledTimes(2);
  });

  it('keeps a short-lived token for half its life at least', async () => {
    const ep = endpoint(10);
    const source = createTokenSource({ fetch: ep.fetch });
    const first = source.get();
    ep.answer();
    await first;
    vi.advanceTimersByTime(4_999);
    expect(await source.get()).toEqual({ token: 't1' });
    vi.advanceTimersByTime(1);
    void source.get();
    expect(ep.fetch).toHaveBeenCalledTimes(2);
  });

  it('invalidate drops only the token the API refused', async () => {
    const ep = endpoint();
    const source = createTokenSource({ fetch: ep.fetch });
    const a = source.get();
    ep.answer();
    await a;
    source.invalidate('someone-else');
    expect(await source.get()).toEqual({ token: 't1' });
    source.invalidate('t1');
    const b = source.get();
    await vi.advanceTimersByTimeAsync(0);
    ep.answer();
    expect(await b).toEqual({ token: 't2' });
  });

  it('does not cache a refusal or a failure: the next call asks again', async () => {
    const refused = response(401, { error: 'invalid_client' });
    const fetch = vi
      .fn<() => Promise<TokenFetchResult>>()
      .mockResolvedValueOnce({ refused })
      .mockRejectedValueOnce(new Error('reset'))
      .mockResolvedValueOnce({ token: 'ok', expiresInSec: 3600 });
    const source = createTokenSource({ fetch });
    expect(await source.get()).toEqual({ refused });
    await expect(source.get()).rejects.toThrow('reset');
    expect(await source.get()).toEqual({ token: 'ok' });
    expect(fetch).toHaveBeenCalledTimes(3);
  });

  it('a caller whose signal aborts stops waiting; the others still get the token', async () => {
    const ep = endpoint();
    const source = createTokenSource({ fetch: ep.fetch });
    const controller = new AbortController();
    const impatient = source.get(controller.signal);
    const patient = source.get();
    controller.abort(new Error('deadline'));
    await expect(impatient).rejects.toThrow('deadline');
    await vi.advanceTimersByTimeAsync(0);
    ep.answer();
    expect(await patient).toEqual({ token: 't1' });
    expect(ep.fetch).toHaveBeenCalledTimes(1);
  });
});

describe('token answers and refusals', () => {
  it('reads {access_token, token_type, expires_in}', () => {
    expect(parseTokenAnswer({ access_token: 'abc', token_type: 'Bearer', expires_in: 3600 })).toEqual({ token: 'abc', expiresInSec: 3600 });
    expect(parseTokenAnswer({ access_token: 'abc', token_type: 'mac', expires_in: 3600 })).toBeUndefined();
    expect(parseTokenAnswer({ token_type: 'Bearer' })).toBeUndefined();
    expect(parseTokenAnswer('nope')).toBeUndefined();
  });

  it('maps the RFC 6749 error body: 400/401 UNAUTHENTICATED, 403 FORBIDDEN, others by status', () => {
    expect(tokenEndpointError(response(400, { error: 'invalid_request', error_description: 'The provided credentials are not valid.' }))).toEqual({
      code: 'UNAUTHENTICATED',
      vendorCode: 'invalid_request',
      message: 'the access token request failed: The provided credentials are not valid.',
    });
    expect(tokenEndpointError(response(401, {})).code).toBe('UNAUTHENTICATED');
    expect(tokenEndpointError(response(403, { error: 'access_denied' })).code).toBe('FORBIDDEN');
    expect(tokenEndpointError(response(503, undefined))).toEqual({ message: 'the access token request failed' });
  });
});
