import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';

// An access key (reference/002, "AccessKey Management"): an id and a secret with which a
// program signs API requests; it acts with its owner's permissions. The secret is shown once
// at creation and kept only sealed with the key ring (it must be recovered to check
// signatures, so it cannot be hashed like a password).

export type AccessKeyEvent =
  | DomainEvent<'AccessKeyCreated', { accessKeyId: string; userId: string; username: string; secretSealed: string; description: string; at: number }>
  | DomainEvent<'AccessKeyDisabled', { accessKeyId: string; userId: string; at: number }>
  | DomainEvent<'AccessKeyEnabled', { accessKeyId: string; userId: string; at: number }>
  | DomainEvent<'AccessKeyDeleted', { accessKeyId: string; userId: string; at: number }>;

export type AccessKeyCommand =
  | { type: 'CreateAccessKey'; accessKeyId: string; userId: string; username: string; secretSealed: string; description: string; now: number }
  | { type: 'DisableAccessKey'; now: number }
  | { type: 'EnableAccessKey'; now: number }
  | { type: 'DeleteAccessKey'; now: number };

export type AccessKeyState =
  | { exists: false }
  | { exists: true; accessKeyId: string; userId: string; username: string; secretSealed: string; description: string; state: 'enabled' | 'disabled' | 'deleted'; createdAt: number };

export const accessKeyStream = (accessKeyId: string) => `access-key-${accessKeyId}`;
/** Failed signature checks, kept apart so that nobody can grow a key's stream by sending bad signatures. */
export const accessKeyFailuresStream = 'access-key-failures';

export type AccessKeyFailureReason = 'UNKNOWN_KEY' | 'KEY_DISABLED' | 'OWNER_INACTIVE' | 'BAD_SIGNATURE' | 'STALE_DATE' | 'MALFORMED' | 'IP_NOT_ALLOWED';

export type AccessKeyFailureEvent = DomainEvent<'AccessKeyAuthenticationFailed', { accessKeyId: string | null; reason: AccessKeyFailureReason; method: string; path: string; at: number }>;

export const accessKeyDecider: Decider<AccessKeyCommand, AccessKeyState, AccessKeyEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    if (command.type === 'CreateAccessKey') {
      if (state.exists) throw new DomainError('ACCESS_KEY_EXISTS', `access key ${command.accessKeyId} exists`);
      const { type: _type, now, ...data } = command;
      return [{ type: 'AccessKeyCreated', data: { ...data, at: now } }];
    }
    if (!state.exists || state.state === 'deleted') throw new DomainError('ACCESS_KEY_NOT_FOUND', 'access key not found', 'not_found');
    const data = { accessKeyId: state.accessKeyId, userId: state.userId, at: command.now };
    switch (command.type) {
      case 'DisableAccessKey': return state.state === 'disabled' ? [] : [{ type: 'AccessKeyDisabled', data }];
      case 'EnableAccessKey': return state.state === 'enabled' ? [] : [{ type: 'AccessKeyEnabled', data }];
      case 'DeleteAccessKey': return [{ type: 'AccessKeyDeleted', data }];
    }
  },

  evolve(state, event) {
    if (event.type === 'AccessKeyCreated') {
      const { at, ...data } = event.data;
      return { exists: true, ...data, state: 'enabled', createdAt: at };
    }
    if (!state.exists) return state;
    switch (event.type) {
      case 'AccessKeyDisabled': return { ...state, state: 'disabled' };
      case 'AccessKeyEnabled': return { ...state, state: 'enabled' };
      case 'AccessKeyDeleted': return { ...state, state: 'deleted' };
    }
  },
};
