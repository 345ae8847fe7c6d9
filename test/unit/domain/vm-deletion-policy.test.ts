import { describe, expect, it } from 'vitest';
import { deletionDefaults, deletionSettingNames, expungeAtFor, isExpungeDue } from '../../../domain/compute/deletion-policy.js';
import { findSetting } from '../../../domain/settings/definitions.js';

describe('deletion policy', () => {
  const destroyedAt = Date.UTC(2026, 0, 1);

  it('Direct is due at once, Delay after the period from the destroy event, Never never', () => {
    expect(expungeAtFor('Direct', destroyedAt, 600)).toBe(destroyedAt);
    expect(expungeAtFor('Delay', destroyedAt, 600)).toBe(destroyedAt + 600_000);
    expect(expungeAtFor('Never', destroyedAt, 600)).toBeNull();
    expect(isExpungeDue(destroyedAt + 600_000, destroyedAt + 599_999)).toBe(false);
    expect(isExpungeDue(destroyedAt + 600_000, destroyedAt + 600_000)).toBe(true);
    expect(isExpungeDue(null, Number.MAX_SAFE_INTEGER)).toBe(false);
  });

  it('has the FACTS.md defaults as settings for VMs, volumes and images', () => {
    for (const kind of ['vm', 'volume', 'image'] as const) {
      const names = deletionSettingNames(kind);
      expect(findSetting(names.policy)).toMatchObject({ type: 'enum', default: 'Delay', values: ['Direct', 'Delay', 'Never'] });
      expect(findSetting(names.expungePeriod)).toMatchObject({ default: deletionDefaults[kind].expungePeriodSeconds, min: 1 });
      expect(findSetting(names.expungeInterval)).toMatchObject({ default: 3600, min: 2 });
    }
    expect(deletionDefaults.vm.expungePeriodSeconds).toBe(604_800);
    expect(deletionDefaults.volume.expungePeriodSeconds).toBe(259_200);
    expect(deletionDefaults.image.expungePeriodSeconds).toBe(259_200);
  });
});
