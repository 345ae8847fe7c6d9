import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';
import { ImmutableMap } from '../shared/immutable-map.js';

// Primary storage: where VM root and data volumes live. Like a host's CPU and memory, its
// capacity is owned by its stream: a volume's bytes are reserved here before the volume is
// created, and released when it is expunged or its creation fails.

export type PrimaryStorageType = 'LocalStorage' | 'NFS' | 'SharedBlock' | 'Ceph';
export const primaryStorageTypes = ['LocalStorage', 'NFS', 'SharedBlock', 'Ceph'] as const;

export type PrimaryStorageEvent =
  | DomainEvent<'PrimaryStorageAdded', {
      primaryStorageId: string; zoneId: string; name: string; description: string; type: PrimaryStorageType; url: string; totalCapacityBytes: number; addedAt: number;
    }>
  | DomainEvent<'PrimaryStorageCapacityReserved', { primaryStorageId: string; volumeId: string; sizeBytes: number }>
  | DomainEvent<'PrimaryStorageCapacityReleased', { primaryStorageId: string; volumeId: string; sizeBytes: number }>;

export type PrimaryStorageCommand =
  | {
      type: 'AddPrimaryStorage'; primaryStorageId: string; zoneId: string; name: string; description?: string; storageType: PrimaryStorageType;
      url: string; totalCapacityBytes: number; now: number;
    }
  | { type: 'ReservePrimaryStorage'; volumeId: string; sizeBytes: number }
  | { type: 'ReleasePrimaryStorage'; volumeId: string };

export type PrimaryStorageState =
  | { exists: false }
  | {
      exists: true; primaryStorageId: string; zoneId: string; name: string; type: PrimaryStorageType; url: string;
      totalCapacityBytes: number; usedBytes: number;
      /** Bytes by volume id. */
      reservations: ImmutableMap<number>;
    };

export const primaryStorageStream = (primaryStorageId: string) => `primary-storage-${primaryStorageId}`;

export const primaryStorageDecider: Decider<PrimaryStorageCommand, PrimaryStorageState, PrimaryStorageEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    if (command.type === 'AddPrimaryStorage') {
      if (state.exists) throw new DomainError('PRIMARY_STORAGE_EXISTS', `primary storage ${command.primaryStorageId} already exists`);
      const problems: Array<{ field: string; message: string }> = [];
      if (!command.name.trim()) problems.push({ field: 'name', message: 'must not be empty' });
      if (!primaryStorageTypes.includes(command.storageType)) problems.push({ field: 'type', message: `must be one of ${primaryStorageTypes.join(', ')}` });
      if (!command.url.trim()) problems.push({ field: 'url', message: 'must not be empty' });
      if (!Number.isSafeInteger(command.totalCapacityBytes) || command.totalCapacityBytes <= 0) problems.push({ field: 'totalCapacityBytes', message: 'must be a positive integer' });
      if (problems.length > 0) throw new DomainError('INVALID_PRIMARY_STORAGE', problems.map((p) => `${p.field} ${p.message}`).join('; '), 'invalid', { fields: problems });
      return [{
        type: 'PrimaryStorageAdded',
        data: {
          primaryStorageId: command.primaryStorageId, zoneId: command.zoneId, name: command.name, description: command.description ?? '',
          type: command.storageType, url: command.url, totalCapacityBytes: command.totalCapacityBytes, addedAt: command.now,
        },
      }];
    }
    if (!state.exists) throw new DomainError('PRIMARY_STORAGE_NOT_FOUND', 'no such primary storage', 'not_found');
    const primaryStorageId = state.primaryStorageId;
    switch (command.type) {
      case 'ReservePrimaryStorage': {
        if (state.reservations.has(command.volumeId)) return [];
        if (!Number.isSafeInteger(command.sizeBytes) || command.sizeBytes <= 0) {
          throw new DomainError('INVALID_CAPACITY_REQUEST', 'sizeBytes must be a positive integer', 'invalid');
        }
        const free = state.totalCapacityBytes - state.usedBytes;
        if (command.sizeBytes > free) {
          throw new DomainError('PRIMARY_STORAGE_CAPACITY_EXCEEDED', `primary storage ${primaryStorageId} has ${free} bytes free; ${command.sizeBytes} asked`, 'conflict', {
            primaryStorageId, freeBytes: free,
          });
        }
        return [{ type: 'PrimaryStorageCapacityReserved', data: { primaryStorageId, volumeId: command.volumeId, sizeBytes: command.sizeBytes } }];
      }
      case 'ReleasePrimaryStorage': {
        const sizeBytes = state.reservations.get(command.volumeId);
        if (sizeBytes === undefined) return [];
        return [{ type: 'PrimaryStorageCapacityReleased', data: { primaryStorageId, volumeId: command.volumeId, sizeBytes } }];
      }
    }
  },

  evolve(state, event) {
    if (event.type === 'PrimaryStorageAdded') {
      const data = event.data;
      return {
        exists: true, primaryStorageId: data.primaryStorageId, zoneId: data.zoneId, name: data.name, type: data.type, url: data.url,
        totalCapacityBytes: data.totalCapacityBytes, usedBytes: 0, reservations: ImmutableMap.empty(),
      };
    }
    if (!state.exists) return state;
    switch (event.type) {
      case 'PrimaryStorageCapacityReserved':
        return { ...state, usedBytes: state.usedBytes + event.data.sizeBytes, reservations: state.reservations.set(event.data.volumeId, event.data.sizeBytes) };
      case 'PrimaryStorageCapacityReleased': {
        const released = state.reservations.get(event.data.volumeId);
        if (released === undefined) return state;
        return { ...state, usedBytes: state.usedBytes - released, reservations: state.reservations.delete(event.data.volumeId) };
      }
    }
  },
};
