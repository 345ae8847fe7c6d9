import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';

// An image store (ZStack's backup storage): where registered images are kept, in a zone.

export type ImageStoreEvent = DomainEvent<'ImageStoreAdded', {
  imageStoreId: string; zoneId: string; name: string; description: string; url: string; totalCapacityBytes: number | null; addedAt: number;
}>;

export type ImageStoreCommand = {
  type: 'AddImageStore'; imageStoreId: string; zoneId: string; name: string; description?: string; url: string; totalCapacityBytes?: number; now: number;
};

export type ImageStoreState = { exists: false } | { exists: true; imageStoreId: string; zoneId: string; name: string; url: string };

export const imageStoreStream = (imageStoreId: string) => `image-store-${imageStoreId}`;

export const imageStoreDecider: Decider<ImageStoreCommand, ImageStoreState, ImageStoreEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    if (state.exists) throw new DomainError('IMAGE_STORE_EXISTS', `image store ${command.imageStoreId} already exists`);
    const problems: Array<{ field: string; message: string }> = [];
    if (!command.name.trim()) problems.push({ field: 'name', message: 'must not be empty' });
    if (!command.url.trim()) problems.push({ field: 'url', message: 'must not be empty' });
    if (command.totalCapacityBytes !== undefined && (!Number.isSafeInteger(command.totalCapacityBytes) || command.totalCapacityBytes <= 0)) {
      problems.push({ field: 'totalCapacityBytes', message: 'must be a positive integer' });
    }
    if (problems.length > 0) throw new DomainError('INVALID_IMAGE_STORE', problems.map((p) => `${p.field} ${p.message}`).join('; '), 'invalid', { fields: problems });
    return [{
      type: 'ImageStoreAdded',
      data: {
        imageStoreId: command.imageStoreId, zoneId: command.zoneId, name: command.name, description: command.description ?? '', url: command.url,
        totalCapacityBytes: command.totalCapacityBytes ?? null, addedAt: command.now,
      },
    }];
  },

  evolve(_state, event) {
    const { imageStoreId, zoneId, name, url } = event.data;
    return { exists: true, imageStoreId, zoneId, name, url };
  },
};
