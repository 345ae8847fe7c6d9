import type { EventMetadata, RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { TaskEvent } from '../../domain/tasks/task.js';
import type { SessionEvent } from '../../domain/identity/session.js';
import type { UserEvent } from '../../domain/identity/user.js';
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

type AuditedEvent = TaskEvent | SessionEvent | Extract<UserEvent, { type: 'LoginFailed' }>;

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
  return {
    id: event.id,
    time,
    ...origin(event.metadata),
    resourceType: 'session',
    startedAt: time,
    finishedAt: time,
    ...fields,
  };
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
  handles: ['TaskStarted', 'TaskSucceeded', 'TaskFailed', 'UserLoggedIn', 'UserLoggedOut', 'LoginFailed'],

  apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as AuditedEvent & RecordedEvent;
    switch (event.type) {
      case 'TaskStarted': {
        const { taskId, action, resourceType, resourceIds, request, startedAt } = event.data;
        const entry: AuditEntry = {
          id: taskId,
          time: isoTime(startedAt),
          action,
          result: 'running',
          ...origin(event.metadata),
          resourceType,
          resourceIds,
          startedAt: isoTime(startedAt),
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
          error: { code: 'INVALID_CREDENTIALS', message: loginFailureMessage[event.data.reason] },
        }));
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
const loginFailureMessage = {
  UNKNOWN_USER: 'unknown user name',
  WRONG_PASSWORD: 'wrong password',
  USER_DISABLED: 'user is disabled',
} as const;
