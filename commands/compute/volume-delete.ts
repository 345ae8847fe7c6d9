import type { Clock } from '../../adapters/clock/port.js';
import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { deletionDefaults, deletionSettingNames, isDeletionPolicy, type DeletionPolicy } from '../../domain/compute/deletion-policy.js';
import { volumeDecider, volumeStream } from '../../domain/compute/volume.js';
import { findSetting } from '../../domain/settings/definitions.js';
import { readSettings } from '../settings/settings.js';
import { handleCommand } from '../shared/handle-command.js';
import { expungeVolume } from './volume-expunge.js';

// DELETE /v1/volumes/<id> under the volume deletion policy (volume.deletionPolicy):
// Direct expunges at once; Delay keeps the volume Destroyed and recoverable until
// volume.expungePeriod has passed since this delete (then the expunger removes it); Never
// keeps it Destroyed for ever. An attached volume is refused (VOLUME_ATTACHED): detach first.

type Deps = { store: EventStore; clock: Clock };

export async function volumeDeletionSettings(store: EventStore): Promise<{ policy: DeletionPolicy; expungePeriodSeconds: number }> {
  const settings = await readSettings(store);
  const names = deletionSettingNames('volume');
  const value = (name: string) => settings[name] ?? findSetting(name)?.default;
  const policy = value(names.policy);
  const period = value(names.expungePeriod);
  return {
    policy: isDeletionPolicy(policy) ? policy : deletionDefaults.volume.policy,
    expungePeriodSeconds: typeof period === 'number' ? period : deletionDefaults.volume.expungePeriodSeconds,
  };
}

export interface DeleteVolumeOutcome {
  id: string;
  state: 'Destroyed' | 'Expunged';
  policy: DeletionPolicy;
  expungeAt: string | null;
  position: number;
}

export async function deleteVolume(
  deps: Deps,
  volumeId: string,
  metadata: EventMetadata,
  options: { policy?: DeletionPolicy; wait?: boolean } = {},
): Promise<DeleteVolumeOutcome> {
  const settings = await volumeDeletionSettings(deps.store);
  const policy = options.policy ?? settings.policy;
  const outcome = await handleCommand(deps.store, volumeDecider, volumeStream(volumeId), {
    type: 'DestroyVolume', policy, expungePeriodSeconds: settings.expungePeriodSeconds, now: deps.clock.now(),
  }, metadata);
  const state = outcome.state.status === 'None' ? null : outcome.state;
  // A repeated DELETE of a volume destroyed earlier reports that destruction as it was.
  const effectivePolicy = state?.policy ?? policy;
  if (effectivePolicy === 'Direct') {
    const expunged = await expungeVolume(deps, volumeId, metadata, { wait: options.wait ?? true });
    return { id: volumeId, state: expunged.expunged ? 'Expunged' : 'Destroyed', policy: effectivePolicy, expungeAt: null, position: expunged.position || outcome.position };
  }
  const expungeAt = state?.expungeAt ?? null;
  return { id: volumeId, state: 'Destroyed', policy: effectivePolicy, expungeAt: expungeAt === null ? null : new Date(expungeAt).toISOString(), position: outcome.position };
}

export async function recoverVolume(deps: Deps, volumeId: string, metadata: EventMetadata) {
  const outcome = await handleCommand(deps.store, volumeDecider, volumeStream(volumeId), { type: 'RecoverVolume', now: deps.clock.now() }, metadata);
  const state = outcome.state.status === 'None' ? 'None' : outcome.state.status;
  return { id: volumeId, state, position: outcome.position };
}
