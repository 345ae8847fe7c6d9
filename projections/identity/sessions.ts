import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { SessionEvent } from '../../domain/identity/session.js';
import { isoTime, type Projection } from '../shared/projection.js';

// Login sessions for administrators (`GET /v1/sessions`): who, since when, from where, until
// when. Not the token's hash. `state` is as recorded; a session whose `expiresAt` has passed
// is over even while it says `open` (the API's `active=true` accounts for that).

export const sessionsCollection = 'sessions';

export const sessionListFields = {
  id: 'string',
  userId: 'string',
  username: 'string',
  state: 'string',
  openedAt: 'time',
  expiresAt: 'time',
  closedAt: 'time',
  clientIp: 'string',
} as const;

export const sessionsProjection: Projection = {
  name: 'identity-sessions',
  version: 1,
  collections: [sessionsCollection],
  indexes: [
    { collection: sessionsCollection, fields: [['openedAt', -1]] },
    { collection: sessionsCollection, fields: [['userId', 1], ['openedAt', -1]] },
    { collection: sessionsCollection, fields: [['state', 1], ['expiresAt', 1]] },
  ],
  handles: ['UserLoggedIn', 'UserLoggedOut'],

  apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as SessionEvent & RecordedEvent;
    switch (event.type) {
      case 'UserLoggedIn':
        batch.upsert(sessionsCollection, {
          id: event.data.sessionId,
          userId: event.data.userId,
          username: event.data.username,
          state: 'open',
          scope: event.data.scope ?? 'full',
          openedAt: isoTime(event.data.at),
          expiresAt: isoTime(event.data.expiresAt),
          closedAt: null,
          closeReason: null,
          clientIp: event.metadata.clientIp ?? null,
          userAgent: event.metadata.userAgent ?? null,
        });
        return;
      case 'UserLoggedOut':
        batch.patch(sessionsCollection, event.data.sessionId, { state: 'closed', closedAt: isoTime(event.data.at), closeReason: event.data.reason });
        return;
    }
  },
};
