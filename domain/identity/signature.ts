import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

// The access-key request signature (docs/access-keys.md):
//
//   Authorization: Stratus <AccessKeyId>:<base64 HMAC-SHA256(secret, stringToSign)>
//   stringToSign = METHOD + "\n" + path[?sorted query] + "\n" + Date header + "\n" + hex SHA-256(body)
//
// The query's `name=value` pieces are sorted as sent (still percent-encoded), by code unit,
// so that a client need not reproduce the server's decoding. Pure functions: the same inputs
// always give the same signature, which is what the fixed test vectors rely on.

/** How far the `Date` header may be from the server's clock, either way. */
export const maxClockSkewMs = 15 * 60 * 1000;

export const authorizationScheme = 'Stratus';

export interface SignedRequest {
  method: string;
  /** Path and query string as sent (`/v1/users?limit=5&q=a`). */
  url: string;
  date: string;
  /** The raw body bytes; absent or empty when there is none. */
  body?: Buffer | string;
}

/** The path with its query parameters sorted; no `?` when there are none. */
export function canonicalResource(url: string): string {
  const index = url.indexOf('?');
  if (index < 0) return url;
  const path = url.slice(0, index);
  const pieces = url.slice(index + 1).split('&').filter((piece) => piece !== '');
  if (pieces.length === 0) return path;
  pieces.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `${path}?${pieces.join('&')}`;
}

export const bodyDigest = (body: Buffer | string | undefined) => createHash('sha256').update(body ?? '').digest('hex');

export function stringToSign(request: SignedRequest): string {
  return [request.method.toUpperCase(), canonicalResource(request.url), request.date, bodyDigest(request.body)].join('\n');
}

export function sign(secret: string, request: SignedRequest): string {
  return createHmac('sha256', secret).update(stringToSign(request), 'utf8').digest('base64');
}

/** The `Authorization` header value for a request. */
export function authorizationHeader(accessKeyId: string, secret: string, request: SignedRequest): string {
  return `${authorizationScheme} ${accessKeyId}:${sign(secret, request)}`;
}

/** `Stratus <id>:<signature>` → its parts, or undefined when the header is not of that form. */
export function parseAuthorization(header: string): { accessKeyId: string; signature: string } | undefined {
  const match = /^Stratus +([A-Za-z0-9_-]{1,64}):([A-Za-z0-9+/]{1,128}={0,2}) *$/.exec(header);
  return match ? { accessKeyId: match[1]!, signature: match[2]! } : undefined;
}

// IMF-fixdate (RFC 9110 §5.6.7), what `new Date().toUTCString()` gives: "Sun, 06 Nov 1994 08:49:37 GMT".
const imfFixdate = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** Epoch ms of an HTTP date, or undefined when it is not an IMF-fixdate. */
export function parseHttpDate(text: string): number | undefined {
  if (!imfFixdate.test(text)) return undefined;
  const time = Date.parse(text);
  return Number.isFinite(time) ? time : undefined;
}

export type SignatureCheck = 'valid' | 'malformed-date' | 'stale-date' | 'bad-signature';

/** Checks a request's signature and its date against the server's `now`; constant-time on the signature. */
export function checkSignature(secret: string, request: SignedRequest, signature: string, now: number): SignatureCheck {
  const time = parseHttpDate(request.date);
  if (time === undefined) return 'malformed-date';
  if (Math.abs(now - time) > maxClockSkewMs) return 'stale-date';
  const expected = Buffer.from(sign(secret, request), 'base64');
  const given = Buffer.from(signature, 'base64');
  return expected.length === given.length && timingSafeEqual(expected, given) ? 'valid' : 'bad-signature';
}
