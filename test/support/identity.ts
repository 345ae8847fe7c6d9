import { expect } from 'vitest';
import request from 'supertest';
import { authorizationHeader } from '../../domain/identity/signature.js';
import type { TestStratus } from './stratus.js';

// Helpers for the identity end-to-end tests: users, logins from a given address, signed
// requests, audit entries.

export const strongPassword = 'a long and secret passphrase 42';

/** Creates a user through the API (as `auth`) and answers its id. */
export async function createUserVia(s: TestStratus, auth: string, user: { username: string; password?: string; roles?: string[]; zones?: 'all' | string[] }): Promise<string> {
  const response = await request(s.app).post('/v1/users').set('Authorization', auth).send({ password: strongPassword, ...user });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body.id as string;
}

/** A login from `ip` (sent as X-Forwarded-For, believed because the test client is a trusted proxy). */
export function loginFrom(s: TestStratus, ip: string, body: { username: string; password: string; totp?: string }) {
  return request(s.app).post('/v1/sessions').set('X-Forwarded-For', ip).send(body);
}

export async function bearerOf(s: TestStratus, username: string, password = strongPassword, ip = '192.0.2.200'): Promise<string> {
  const response = await loginFrom(s, ip, { username, password });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return `Bearer ${response.body.token as string}`;
}

export interface AccessKeyPair {
  id: string;
  secret: string;
}

/** A request signed as docs/access-keys.md says, with `now` as its Date. */
export function signed(s: TestStratus, key: AccessKeyPair, method: 'get' | 'post' | 'patch' | 'delete' | 'put', url: string, options: { body?: unknown; now?: number; ip?: string } = {}) {
  const date = new Date(options.now ?? Date.now()).toUTCString();
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const authorization = authorizationHeader(key.id, key.secret, { method, url, date, body });
  const pending = request(s.app)[method](url).set('Date', date).set('Authorization', authorization).set('X-Forwarded-For', options.ip ?? '192.0.2.201');
  return body === undefined ? pending : pending.set('Content-Type', 'application/json').send(body);
}

/** Audit entries once the audit log has reached `position`, filtered by query-language conditions. */
export async function auditEntries(s: Pick<TestStratus, 'app'>, auth: string, position: string | number, ...conditions: string[]) {
  const query = new URLSearchParams([['after', String(position)], ['limit', '1000'], ...conditions.map((condition) => ['q', condition] as [string, string])]);
  const response = await request(s.app).get(`/v1/audit-log?${query}`).set('Authorization', auth);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.items as Array<Record<string, any>>;
}

/** Every event in the store as one JSON text: to assert that a secret never entered it. */
export async function allEventsText(s: TestStratus): Promise<string> {
  const events = await s.eventStore.readAll({ after: 0, limit: 1_000_000 });
  return JSON.stringify(events);
}

/** Every document of the given read-model collections as one JSON text. */
export async function readModelsText(s: TestStratus, collections: string[]): Promise<string> {
  const docs: unknown[] = [];
  for (const collection of collections) for await (const doc of s.readStore.scan(collection)) docs.push(doc);
  return JSON.stringify(docs);
}

export const headPosition = (s: TestStratus) => s.eventStore.headPosition();

export const noStackTrace = (text: string) => !/\bat .*\.(ts|js|mjs):\d+/.test(text) && !/Error: .*\n\s+at /.test(text);
