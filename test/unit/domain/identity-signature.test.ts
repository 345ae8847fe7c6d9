import { describe, expect, it } from 'vitest';
import {
  authorizationHeader, bodyDigest, canonicalResource, checkSignature, maxClockSkewMs, parseAuthorization, parseHttpDate, sign, stringToSign,
} from '../../../domain/identity/signature.js';

// Fixed vectors. The expected signatures were computed independently of this code, with
// openssl (see docs/access-keys.md), so a change of the scheme cannot pass unnoticed.
const secret = 'c3RyYXR1cy1leGFtcGxlLXNlY3JldC1kby1ub3QtdXNl';
const date = 'Thu, 01 Jan 2026 12:00:00 GMT';
const now = Date.UTC(2026, 0, 1, 12, 0, 0);

const post = {
  method: 'POST',
  url: '/v1/ip-access-lists',
  date,
  body: '{"name":"office","type":"allow","entries":["192.0.2.0/24"]}',
};
const postSignature = '7teWlqulZIIRMYawTvp8quVi2B8bu2iHHSpyPW5droM=';

const get = { method: 'GET', url: '/v1/users?q=username~%3Dal%25&limit=5', date };
const getSignature = '/WQ9e/1Ibld+wSDwYE4wIydfK/tdCK5ynPZOaJSdWN0=';

describe('access-key signature: fixed vectors', () => {
  it('builds the string to sign: method, path with sorted query, Date, hex SHA-256 of the body', () => {
    expect(stringToSign(post)).toBe('POST\n/v1/ip-access-lists\nThu, 01 Jan 2026 12:00:00 GMT\nae87978ebd302c68213c137170a9c38987e3d6030f31f17717bbc2da5edcb4d9');
    expect(stringToSign(get)).toBe('GET\n/v1/users?limit=5&q=username~%3Dal%25\nThu, 01 Jan 2026 12:00:00 GMT\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(bodyDigest(undefined)).toBe(bodyDigest(''));
  });

  it('signs with the right key to the expected value', () => {
    expect(sign(secret, post)).toBe(postSignature);
    expect(sign(secret, get)).toBe(getSignature);
    expect(authorizationHeader('AKEXAMPLE7QZ4M2W3XYAB', secret, post)).toBe(`Stratus AKEXAMPLE7QZ4M2W3XYAB:${postSignature}`);
    expect(checkSignature(secret, post, postSignature, now)).toBe('valid');
    expect(checkSignature(secret, get, getSignature, now)).toBe('valid');
  });

  it('refuses a signature made with a wrong key', () => {
    expect(sign('wrong-secret', post)).toBe('fBSlphC2eZWdg5woxLlIY+6+F/m1vChajoNOWaYVOHA=');
    expect(checkSignature(secret, post, 'fBSlphC2eZWdg5woxLlIY+6+F/m1vChajoNOWaYVOHA=', now)).toBe('bad-signature');
    expect(checkSignature('wrong-secret', post, postSignature, now)).toBe('bad-signature');
  });

  it('refuses a Date more than 15 minutes away, either way, and a malformed one', () => {
    expect(checkSignature(secret, post, postSignature, now + maxClockSkewMs)).toBe('valid');
    expect(checkSignature(secret, post, postSignature, now - maxClockSkewMs)).toBe('valid');
    expect(checkSignature(secret, post, postSignature, now + maxClockSkewMs + 1000)).toBe('stale-date');
    expect(checkSignature(secret, post, postSignature, now - maxClockSkewMs - 1000)).toBe('stale-date');
    expect(checkSignature(secret, { ...post, date: '2026-01-01T12:00:00Z' }, postSignature, now)).toBe('malformed-date');
    expect(checkSignature(secret, { ...post, date: '' }, postSignature, now)).toBe('malformed-date');
  });

  it('refuses a tampered body', () => {
    expect(checkSignature(secret, { ...post, body: post.body.replace('192.0.2.0/24', '0.0.0.0/0') }, postSignature, now)).toBe('bad-signature');
    expect(checkSignature(secret, { ...post, body: '' }, postSignature, now)).toBe('bad-signature');
  });

  it('refuses a tampered query, path or method; accepts the same query in another order', () => {
    expect(checkSignature(secret, { ...get, url: '/v1/users?q=username~%3Dal%25&limit=500' }, getSignature, now)).toBe('bad-signature');
    expect(checkSignature(secret, { ...get, url: '/v1/users?q=username~%3Dal%25' }, getSignature, now)).toBe('bad-signature');
    expect(checkSignature(secret, { ...get, url: '/v1/roles?q=username~%3Dal%25&limit=5' }, getSignature, now)).toBe('bad-signature');
    expect(checkSignature(secret, { ...get, method: 'DELETE' }, getSignature, now)).toBe('bad-signature');
    expect(checkSignature(secret, { ...get, url: '/v1/users?limit=5&q=username~%3Dal%25' }, getSignature, now)).toBe('valid');
  });

  it('sorts query pieces as sent, drops empty ones, and keeps a bare path bare', () => {
    expect(canonicalResource('/v1/x?b=2&a=1&a=0')).toBe('/v1/x?a=0&a=1&b=2');
    expect(canonicalResource('/v1/x?&b=2&&a=1&')).toBe('/v1/x?a=1&b=2');
    expect(canonicalResource('/v1/x?')).toBe('/v1/x');
    expect(canonicalResource('/v1/x')).toBe('/v1/x');
  });

  it('parses the Authorization header and the HTTP date strictly', () => {
    expect(parseAuthorization(`Stratus AKEXAMPLE:${postSignature}`)).toEqual({ accessKeyId: 'AKEXAMPLE', signature: postSignature });
    expect(parseAuthorization('Stratus AKEXAMPLE')).toBeUndefined();
    expect(parseAuthorization('Bearer abc')).toBeUndefined();
    expect(parseAuthorization(`Stratus AK:EX:${postSignature}`)).toBeUndefined();
    expect(parseHttpDate(date)).toBe(now);
    expect(parseHttpDate(new Date(now).toUTCString())).toBe(now);
    expect(parseHttpDate('Thursday, 01-Jan-26 12:00:00 GMT')).toBeUndefined();
  });
});
