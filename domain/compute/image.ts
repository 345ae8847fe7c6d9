import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';
import { expungeAtFor, type DeletionPolicy } from './deletion-policy.js';

// A VM image (template) registered from a URL or a path, with the sha256 every copy of it is
// verified against (reference/001: an image copied to a host's storage must pass
// verification). A failed verification marks the image `Error` with its reason.
//
// Deletion follows `image.deletionPolicy` (FACTS.md) by the rule VMs and volumes share
// (deletion-policy.ts): `Destroyed` images stay listed and recoverable until expunged; the
// expunge period counts from the ImageDeleted event.

export type { DeletionPolicy };
export type ImageFormat = 'qcow2' | 'raw' | 'iso';
export type ImagePlatform = 'Linux' | 'Windows';
export type ImageStatus = 'Ready' | 'Error';
export type ImageState = ImageStatus | 'Destroyed' | 'Expunged';

export const imageFormats = ['qcow2', 'raw', 'iso'] as const;
export const imagePlatforms = ['Linux', 'Windows'] as const;
export const sha256Pattern = /^[0-9a-f]{64}$/;

export interface ImageDefinition {
  imageId: string;
  name: string;
  description: string;
  url: string;
  format: ImageFormat;
  platform: ImagePlatform;
  sha256: string;
  sizeBytes: number;
  imageStoreId: string | null;
}

export type ImageEvent =
  | DomainEvent<'ImageRegistered', ImageDefinition & { registeredAt: number }>
  | DomainEvent<'ImageMarkedError', { imageId: string; reason: string; at: number }>
  | DomainEvent<'ImageDeleted', { imageId: string; policy: DeletionPolicy; expungeAt: number | null; at: number }>
  | DomainEvent<'ImageRecovered', { imageId: string; at: number }>
  | DomainEvent<'ImageExpunged', { imageId: string; at: number }>;

export type ImageCommand =
  | ({ type: 'RegisterImage'; now: number } & Omit<ImageDefinition, 'description' | 'imageStoreId'> & { description?: string; imageStoreId?: string | null })
  | { type: 'MarkImageError'; reason: string; now: number }
  /** The caller reads the policy and period from the settings when the delete is asked. */
  | { type: 'DeleteImage'; policy: DeletionPolicy; expungePeriodSeconds: number; now: number }
  | { type: 'RecoverImage'; now: number }
  | { type: 'ExpungeImage'; now: number };

export type ImageAggregate =
  | { exists: false }
  | (ImageDefinition & {
      exists: true;
      state: ImageState;
      /** Ready or Error: what the image returns to when recovered. */
      status: ImageStatus;
      reason?: string;
      deletedAt?: number;
      expungeAt?: number | null;
    });

export const imageStream = (imageId: string) => `image-${imageId}`;

export const imageDecider: Decider<ImageCommand, ImageAggregate, ImageEvent> = {
  initialState: { exists: false },

  decide(command, state) {
    if (command.type === 'RegisterImage') {
      if (state.exists) throw new DomainError('IMAGE_EXISTS', `image ${command.imageId} already exists`);
      return [{ type: 'ImageRegistered', data: validImage(command) }];
    }
    if (!state.exists || state.state === 'Expunged') {
      // An expunge repeated after it finished (a resumed expunger, a retried request) is a no-op.
      if (command.type === 'ExpungeImage' && state.exists) return [];
      throw new DomainError('IMAGE_NOT_FOUND', 'no such image', 'not_found');
    }
    const imageId = state.imageId;
    switch (command.type) {
      case 'MarkImageError':
        if (state.state === 'Destroyed') throw new DomainError('IMAGE_DESTROYED', `image ${imageId} is destroyed`);
        if (state.status === 'Error' && state.reason === command.reason) return [];
        return [{ type: 'ImageMarkedError', data: { imageId, reason: command.reason, at: command.now } }];
      case 'DeleteImage':
        // A repeated delete changes nothing: the expunge clock keeps counting from the first.
        if (state.state === 'Destroyed') return [];
        return [{ type: 'ImageDeleted', data: { imageId, policy: command.policy, expungeAt: expungeAtFor(command.policy, command.now, command.expungePeriodSeconds), at: command.now } }];
      case 'RecoverImage':
        if (state.state !== 'Destroyed') throw new DomainError('IMAGE_NOT_DESTROYED', `image ${imageId} is ${state.state}, not Destroyed`);
        return [{ type: 'ImageRecovered', data: { imageId, at: command.now } }];
      case 'ExpungeImage':
        if (state.state !== 'Destroyed') throw new DomainError('IMAGE_NOT_DESTROYED', `image ${imageId} is ${state.state}: delete it before expunging it`);
        return [{ type: 'ImageExpunged', data: { imageId, at: command.now } }];
    }
  },

  evolve(state, event) {
    if (event.type === 'ImageRegistered') {
      const { registeredAt: _, ...definition } = event.data;
      return { ...definition, exists: true, state: 'Ready', status: 'Ready' };
    }
    if (!state.exists) return state;
    switch (event.type) {
      case 'ImageMarkedError':
        return { ...state, state: 'Error', status: 'Error', reason: event.data.reason };
      case 'ImageDeleted':
        return { ...state, state: 'Destroyed', deletedAt: event.data.at, expungeAt: event.data.expungeAt };
      case 'ImageRecovered': {
        const { deletedAt: _d, expungeAt: _e, ...rest } = state;
        return { ...rest, state: state.status };
      }
      case 'ImageExpunged':
        return { ...state, state: 'Expunged' };
    }
  },
};

function validImage(command: Extract<ImageCommand, { type: 'RegisterImage' }>): ImageDefinition & { registeredAt: number } {
  const problems: Array<{ field: string; message: string }> = [];
  if (!command.name.trim()) problems.push({ field: 'name', message: 'must not be empty' });
  if (!isImageLocation(command.url)) problems.push({ field: 'url', message: 'must be an http(s)/ftp/file URL or an absolute path' });
  if (!imageFormats.includes(command.format)) problems.push({ field: 'format', message: `must be one of ${imageFormats.join(', ')}` });
  if (!imagePlatforms.includes(command.platform)) problems.push({ field: 'platform', message: `must be one of ${imagePlatforms.join(', ')}` });
  if (!sha256Pattern.test(command.sha256)) problems.push({ field: 'sha256', message: 'must be 64 lowercase hexadecimal digits' });
  if (!Number.isInteger(command.sizeBytes) || command.sizeBytes <= 0) problems.push({ field: 'sizeBytes', message: 'must be a positive integer' });
  if (problems.length > 0) throw new DomainError('INVALID_IMAGE', problems.map((p) => `${p.field} ${p.message}`).join('; '), 'invalid', { fields: problems });
  return {
    imageId: command.imageId,
    name: command.name,
    description: command.description ?? '',
    url: command.url,
    format: command.format,
    platform: command.platform,
    sha256: command.sha256,
    sizeBytes: command.sizeBytes,
    imageStoreId: command.imageStoreId ?? null,
    registeredAt: command.now,
  };
}

function isImageLocation(url: string): boolean {
  if (url.startsWith('/')) return !url.includes('\0');
  try {
    return ['http:', 'https:', 'ftp:', 'file:'].includes(new URL(url).protocol);
  } catch {
    return false;
  }
}
