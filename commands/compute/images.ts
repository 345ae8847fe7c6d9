import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { imageDecider, imageStream, type DeletionPolicy, type ImageFormat, type ImagePlatform } from '../../domain/compute/image.js';
import { imageStoreDecider, imageStoreStream } from '../../domain/compute/image-store.js';
import { DomainError } from '../../domain/shared/errors.js';
import { readSettings } from '../settings/settings.js';
import { settingValue } from '../../domain/settings/settings.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';
import { newId } from '../shared/ids.js';
import { expungeImage } from './image-expunge.js';
import { imageAmounts, imageQuotaKey, withQuota } from '../tenancy/quota.js';

export interface RegisterImageRequest {
  name: string;
  description?: string;
  url: string;
  format: ImageFormat;
  platform: ImagePlatform;
  sha256: string;
  sizeBytes: number;
  imageStoreId?: string;
}

/** Tenancy: the project an image is registered in (its image quota is reserved first). */
export interface InProject {
  projectId?: string;
}

type Deps = { store: EventStore; clock: Clock };

export async function registerImage(deps: Deps, request: RegisterImageRequest, metadata: EventMetadata, tenancy: InProject = {}) {
  if (request.imageStoreId !== undefined) {
    const imageStore = await loadAggregate(deps.store, imageStoreDecider, imageStoreStream(request.imageStoreId));
    if (!imageStore.state.exists) {
      throw new DomainError('IMAGE_STORE_NOT_FOUND', `no image store ${request.imageStoreId}`, 'not_found', { fields: [{ field: 'imageStoreId', message: 'no such image store' }] });
    }
  }
  const imageId = newId();
  const recordedWith = tenancy.projectId ? { ...metadata, projectId: tenancy.projectId } : metadata;
  const outcome = await withQuota(deps.store, tenancy.projectId, imageQuotaKey(imageId), imageAmounts, recordedWith, () => handleCommand(deps.store, imageDecider, imageStream(imageId), {
    type: 'RegisterImage', imageId, ...request, sha256: request.sha256.toLowerCase(), now: deps.clock.now(),
  }, recordedWith));
  return { id: imageId, position: outcome.position };
}

/** A copy of the image failed verification (or could not be read): the image is not usable. */
export async function markImageError(deps: Deps, imageId: string, reason: string, metadata: EventMetadata) {
  const outcome = await handleCommand(deps.store, imageDecider, imageStream(imageId), { type: 'MarkImageError', reason, now: deps.clock.now() }, metadata);
  return { position: outcome.position };
}

/**
 * Deletes an image under `image.deletionPolicy` as it stands now: Direct expunges at once,
 * Delay keeps it Destroyed until `image.expungePeriod` has passed, Never keeps it Destroyed.
 */
export async function deleteImage(deps: Deps, imageId: string, metadata: EventMetadata) {
  const settings = await readSettings(deps.store);
  const policy = settingValue(settings, 'image.deletionPolicy') as DeletionPolicy;
  const expungePeriodSeconds = settingValue(settings, 'image.expungePeriod') as number;
  const outcome = await handleCommand(deps.store, imageDecider, imageStream(imageId), {
    type: 'DeleteImage', policy, expungePeriodSeconds, now: deps.clock.now(),
  }, metadata);
  if (!outcome.state.exists) throw new Error('unreachable: a deleted image exists');
  let position = outcome.position;
  let state: string = outcome.state.state;
  if (outcome.events.length > 0 && policy === 'Direct') {
    position = (await expungeImage(deps, imageId, metadata)).position;
    state = 'Expunged';
  }
  const expungeAt = outcome.state.expungeAt;
  return { id: imageId, state, policy, expungeAt: expungeAt === undefined || expungeAt === null ? null : new Date(expungeAt).toISOString(), position };
}

export async function recoverImage(deps: Deps, imageId: string, metadata: EventMetadata) {
  const outcome = await handleCommand(deps.store, imageDecider, imageStream(imageId), { type: 'RecoverImage', now: deps.clock.now() }, metadata);
  if (!outcome.state.exists) throw new Error('unreachable: a recovered image exists');
  return { id: imageId, state: outcome.state.state, position: outcome.position };
}
