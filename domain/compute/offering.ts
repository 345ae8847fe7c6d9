import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';

// Instance offerings (vCPUs, memory) and disk offerings (size). A VM or volume copies the
// values it was created with, so deleting an offering never changes what exists.

export type InstanceOfferingEvent =
  | DomainEvent<'InstanceOfferingCreated', { instanceOfferingId: string; name: string; description: string; cpuCount: number; memoryBytes: number; createdAt: number }>
  | DomainEvent<'InstanceOfferingDeleted', { instanceOfferingId: string; at: number }>;

export type InstanceOfferingCommand =
  | { type: 'CreateInstanceOffering'; instanceOfferingId: string; name: string; description?: string; cpuCount: number; memoryBytes: number; now: number }
  | { type: 'DeleteInstanceOffering'; now: number };

export type InstanceOfferingState =
  | { exists: false }
  | { exists: true; deleted: boolean; instanceOfferingId: string; name: string; cpuCount: number; memoryBytes: number };

export const instanceOfferingStream = (instanceOfferingId: string) => `instance-offering-${instanceOfferingId}`;

export const instanceOfferingDecider: Decider<InstanceOfferingCommand, InstanceOfferingState, InstanceOfferingEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    switch (command.type) {
      case 'CreateInstanceOffering': {
        if (state.exists) throw new DomainError('INSTANCE_OFFERING_EXISTS', `instance offering ${command.instanceOfferingId} already exists`);
        const problems = [
          ...positiveInteger('cpuCount', command.cpuCount),
          ...positiveInteger('memoryBytes', command.memoryBytes),
          ...(command.name.trim() ? [] : [{ field: 'name', message: 'must not be empty' }]),
        ];
        if (problems.length > 0) throw invalid('INVALID_INSTANCE_OFFERING', problems);
        return [{
          type: 'InstanceOfferingCreated',
          data: { instanceOfferingId: command.instanceOfferingId, name: command.name, description: command.description ?? '', cpuCount: command.cpuCount, memoryBytes: command.memoryBytes, createdAt: command.now },
        }];
      }
      case 'DeleteInstanceOffering':
        if (!state.exists) throw new DomainError('INSTANCE_OFFERING_NOT_FOUND', 'no such instance offering', 'not_found');
        if (state.deleted) return [];
        return [{ type: 'InstanceOfferingDeleted', data: { instanceOfferingId: state.instanceOfferingId, at: command.now } }];
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'InstanceOfferingCreated':
        return { exists: true, deleted: false, instanceOfferingId: event.data.instanceOfferingId, name: event.data.name, cpuCount: event.data.cpuCount, memoryBytes: event.data.memoryBytes };
      case 'InstanceOfferingDeleted':
        return state.exists ? { ...state, deleted: true } : state;
    }
  },
};

export type DiskOfferingEvent =
  | DomainEvent<'DiskOfferingCreated', { diskOfferingId: string; name: string; description: string; sizeBytes: number; createdAt: number }>
  | DomainEvent<'DiskOfferingDeleted', { diskOfferingId: string; at: number }>;

export type DiskOfferingCommand =
  | { type: 'CreateDiskOffering'; diskOfferingId: string; name: string; description?: string; sizeBytes: number; now: number }
  | { type: 'DeleteDiskOffering'; now: number };

export type DiskOfferingState =
  | { exists: false }
  | { exists: true; deleted: boolean; diskOfferingId: string; name: string; sizeBytes: number };

export const diskOfferingStream = (diskOfferingId: string) => `disk-offering-${diskOfferingId}`;

export const diskOfferingDecider: Decider<DiskOfferingCommand, DiskOfferingState, DiskOfferingEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    switch (command.type) {
      case 'CreateDiskOffering': {
        if (state.exists) throw new DomainError('DISK_OFFERING_EXISTS', `disk offering ${command.diskOfferingId} already exists`);
        const problems = [
          ...positiveInteger('sizeBytes', command.sizeBytes),
          ...(command.name.trim() ? [] : [{ field: 'name', message: 'must not be empty' }]),
        ];
        if (problems.length > 0) throw invalid('INVALID_DISK_OFFERING', problems);
        return [{
          type: 'DiskOfferingCreated',
          data: { diskOfferingId: command.diskOfferingId, name: command.name, description: command.description ?? '', sizeBytes: command.sizeBytes, createdAt: command.now },
        }];
      }
      case 'DeleteDiskOffering':
        if (!state.exists) throw new DomainError('DISK_OFFERING_NOT_FOUND', 'no such disk offering', 'not_found');
        if (state.deleted) return [];
        return [{ type: 'DiskOfferingDeleted', data: { diskOfferingId: state.diskOfferingId, at: command.now } }];
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'DiskOfferingCreated':
        return { exists: true, deleted: false, diskOfferingId: event.data.diskOfferingId, name: event.data.name, sizeBytes: event.data.sizeBytes };
      case 'DiskOfferingDeleted':
        return state.exists ? { ...state, deleted: true } : state;
    }
  },
};

function positiveInteger(field: string, value: number) {
  return Number.isSafeInteger(value) && value > 0 ? [] : [{ field, message: 'must be a positive integer' }];
}

function invalid(code: string, problems: Array<{ field: string; message: string }>) {
  return new DomainError(code, problems.map((p) => `${p.field} ${p.message}`).join('; '), 'invalid', { fields: problems });
}
