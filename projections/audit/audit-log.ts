import type { EventMetadata, RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { TaskEvent } from '../../domain/tasks/task.js';
import type { SessionEvent } from '../../domain/identity/session.js';
import type { LoginEvent, LoginRateLimitedEvent } from '../../domain/identity/login.js';
import type { AccessKeyFailureEvent } from '../../domain/identity/access-key.js';
import { isoTime, type Projection } from '../shared/projection.js';

// The compliance read model: one entry per task (every write and its outcome, failures and
// denials included) and one per login, failed login and logout.

export const auditCollection = 'audit_log';

export interface AuditEntry {
  id: string;
  time: string;
  action: string;
  result: 'running' | 'success' | 'failure';
  operator: { kind: string; id: string; name: string };
  clientIp: string | null;
  userAgent: string | null;
  resourceType: string;
  resourceIds: string[];
  error?: { code: string; message: string };
  startedAt: string;
  finishedAt: string | null;
  request: unknown;
  correlationId: string | null;
  [key: string]: unknown;
}

/** Fields the API's query language may filter and sort on, with their types. */
export const auditLogFields = {
  id: 'string',
  time: 'time',
  action: 'string',
  result: 'string',
  'operator.kind': 'string',
  'operator.id': 'string',
  'operator.name': 'string',
  clientIp: 'string',
  userAgent: 'string',
  resourceType: 'string',
  resourceIds: 'string',
  'error.code': 'string',
  startedAt: 'time',
  finishedAt: 'time',
  correlationId: 'string',
} as const;

type AuditedEvent = TaskEvent | SessionEvent | Extract<LoginEvent, { type: 'LoginFailed' | 'UserLocked' }> | LoginRateLimitedEvent | AccessKeyFailureEvent;

function origin(metadata: EventMetadata) {
  return {
    operator: metadata.actor ?? { kind: 'system', id: 'system', name: 'system' },
    clientIp: metadata.clientIp ?? null,
    userAgent: metadata.userAgent ?? null,
    correlationId: metadata.correlationId ?? null,
  };
}

function sessionEntry(event: RecordedEvent, fields: Pick<AuditEntry, 'action' | 'result' | 'resourceIds' | 'request' | 'operator'> & { error?: AuditEntry['error'] }): AuditEntry {
  const time = isoTime(event.recordedAt);
  const metadata = event.metadata;
  // Written out rather than spread from origin() and `fields` (most entries of a replay are
  // built here, and spreads cost more): same keys in the same order, so the same JSON.
  const entry: AuditEntry = {
    id: event.id,
    time,
    operator: fields.operator,
    clientIp: metadata.clientIp ?? null,
    userAgent: metadata.userAgent ?? null,
    correlationId: metadata.correlationId ?? null,
    resourceType: 'session',
    startedAt: time,
    finishedAt: time,
    action: fields.action,
    result: fields.result,
    resourceIds: fields.resourceIds,
    request: fields.request,
  };
  if ('error' in fields) entry.error = fields.error;
  return entry;
}

export const auditLogProjection: Projection = {
  name: 'audit-log',
  version: 1,
  collections: [auditCollection],
  indexes: [
    { collection: auditCollection, fields: [['time', -1]] },
    { collection: auditCollection, fields: [['action', 1], ['time', -1]] },
    { collection: auditCollection, fields: [['operator.name', 1], ['time', -1]] },
    { collection: auditCollection, fields: [['operator.id', 1], ['time', -1]] },
    { collection: auditCollection, fields: [['clientIp', 1], ['time', -1]] },
    { collection: auditCollection, fields: [['resourceIds', 1]], multiValued: true },
  ],
  handles: ['TaskStarted', 'TaskSucceeded', 'TaskFailed', 'UserLoggedIn', 'UserLoggedOut', 'LoginFailed',
    'UserLocked', 'LoginRateLimited', 'AccessKeyAuthenticationFailed'],
  // apply only upserts and patches entries by id
  parallelRebuild: { module: import.meta.url },

  apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as AuditedEvent & RecordedEvent;
    switch (event.type) {
      case 'TaskStarted': {
        const { taskId, action, resourceType, resourceIds, request, startedAt } = event.data;
        const started = isoTime(startedAt);
        const entry: AuditEntry = {
          id: taskId,
          time: started,
          action,
          result: 'running',
          ...origin(event.metadata),
          resourceType,
          resourceIds,
          startedAt: started,
          finishedAt: null,
          request,
        };
        batch.upsert(auditCollection, entry);
        return;
      }
      case 'TaskSucceeded':
        batch.patch(auditCollection, event.data.taskId, {
          result: 'success',
          resourceIds: event.data.resourceIds,
          finishedAt: isoTime(event.data.finishedAt),
        });
        return;
      case 'TaskFailed':
        batch.patch(auditCollection, event.data.taskId, {
          result: 'failure',
          error: { code: event.data.error.code, message: event.data.error.message },
          finishedAt: isoTime(event.data.finishedAt),
        });
        return;
      case 'UserLoggedIn':
        batch.upsert(auditCollection, sessionEntry(event, {
          action: 'Login',
          result: 'success',
          operator: { kind: 'user', id: event.data.userId, name: event.data.username },
          resourceIds: [event.data.sessionId],
          request: { username: event.data.username },
        }));
        return;
      case 'LoginFailed':
        batch.upsert(auditCollection, sessionEntry(event, {
          action: 'Login',
          result: 'failure',
          operator: { kind: 'user', id: event.data.userId ?? 'unknown', name: event.data.username },
          resourceIds: [],
          request: { username: event.data.username },
          error: { code: loginFailureCode[event.data.reason] ?? 'INVALID_CREDENTIALS', message: loginFailureMessage[event.data.reason] ?? event.data.reason },
        }));
        return;
      case 'UserLocked':
        batch.upsert(auditCollection, {
          ...sessionEntry(event, {
            action: 'LockUser',
            result: 'success',
            operator: { kind: 'system', id: 'system', name: 'system' },
            resourceIds: [event.data.userId],
            request: { username: event.data.username, failures: event.data.failures, until: isoTime(event.data.until) },
          }),
          resourceType: 'user',
        });
        return;
      case 'LoginRateLimited':
        batch.upsert(auditCollection, sessionEntry(event, {
          action: event.data.accessKeyId !== undefined ? 'SignedRequest' : 'Login',
          result: 'failure',
          operator: event.metadata.actor ?? { kind: 'user', id: 'unknown', name: event.data.username ?? 'unknown' },
          resourceIds: [],
          request: { retryAfterSeconds: event.data.retryAfterSeconds },
          error: { code: 'RATE_LIMITED', message: `too many failed attempts from ${event.data.clientIp}` },
        }));
        return;
      case 'AccessKeyAuthenticationFailed':
        batch.upsert(auditCollection, {
          ...sessionEntry(event, {
            action: 'SignedRequest',
            result: 'failure',
            operator: { kind: 'accessKey', id: event.data.accessKeyId ?? 'unknown', name: event.data.accessKeyId ?? 'unknown' },
            resourceIds: event.data.accessKeyId ? [event.data.accessKeyId] : [],
            request: { method: event.data.method, path: event.data.path },
            error: { code: event.data.reason === 'IP_NOT_ALLOWED' ? 'IP_NOT_ALLOWED' : 'INVALID_SIGNATURE', message: accessKeyFailureMessage[event.data.reason] ?? event.data.reason },
          }),
          resourceType: 'accessKey',
        });
        return;
      case 'UserLoggedOut':
        batch.upsert(auditCollection, sessionEntry(event, {
          action: event.data.reason === 'revoked' ? 'RevokeSession' : 'Logout',
          result: 'success',
          operator: event.metadata.actor ?? { kind: 'user', id: event.data.userId, name: event.data.username },
          resourceIds: [event.data.sessionId],
          request: {},
        }));
        return;
    }
  },
};

// The audit log may say why a login failed (the client is only told "wrong user or password").
const loginFailureMessage: Record<string, string> = {
  UNKNOWN_USER: 'unknown user name',
  WRONG_PASSWORD: 'wrong password',
  USER_DISABLED: 'user is disabled',
  USER_LOCKED: 'user is locked after repeated failures',
  TOTP_REQUIRED: 'two-factor code missing',
  WRONG_TOTP: 'wrong two-factor code',
  TOTP_REPLAYED: 'two-factor code already used',
  SESSION_LIMIT: 'too many concurrent sessions',
  IP_NOT_ALLOWED: 'client address refused by the IP allowlist/blocklist',
};

const loginFailureCode: Record<string, string> = {
  TOTP_REQUIRED: 'TOTP_REQUIRED',
  WRONG_TOTP: 'INVALID_TOTP',
  TOTP_REPLAYED: 'INVALID_TOTP',
  SESSION_LIMIT: 'SESSION_LIMIT_REACHED',
  IP_NOT_ALLOWED: 'IP_NOT_ALLOWED',
};

const accessKeyFailureMessage: Record<string, string> = {
  UNKNOWN_KEY: 'unknown access key',
  KEY_DISABLED: 'access key disabled',
  OWNER_INACTIVE: 'the key\'s owner is disabled or deleted',
  BAD_SIGNATURE: 'signature does not match',
  STALE_DATE: 'Date header missing, malformed or outside ±15 minutes',
  MALFORMED: 'malformed Authorization header',
  IP_NOT_ALLOWED: 'client address refused by the IP allowlist/blocklist',
};
