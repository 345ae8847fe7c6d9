import { describe, expect, it } from 'vitest';
import { allSettings, settingsDecider, settingValue, type SettingsEvent } from '../../../domain/settings/settings.js';
import { fold } from '../../../domain/shared/decider.js';
import { scenario } from '../../support/given-when-then.js';

const settings = scenario(settingsDecider);

describe('settings decider', () => {
  it('changes a setting from its default', () => {
    settings.given().when({ type: 'ChangeSetting', name: 'session.timeout', value: 600 })
      .then([{ type: 'SettingChanged', data: { name: 'session.timeout', value: 600, previous: 7200 } }]);
  });

  it('records nothing when the value does not change', () => {
    const changed: SettingsEvent = { type: 'SettingChanged', data: { name: 'session.timeout', value: 600, previous: 7200 } };
    settings.given(changed).when({ type: 'ChangeSetting', name: 'session.timeout', value: 600 }).then([]);
  });

  it('validates the value per setting', () => {
    settings.given().when({ type: 'ChangeSetting', name: 'session.timeout', value: 'soon' }).thenFails('INVALID_SETTING_VALUE');
    settings.given().when({ type: 'ChangeSetting', name: 'session.timeout', value: 1.5 }).thenFails('INVALID_SETTING_VALUE');
    settings.given().when({ type: 'ChangeSetting', name: 'session.timeout', value: 10 }).thenFails('INVALID_SETTING_VALUE');
  });

  it('refuses unknown settings', () => {
    settings.given().when({ type: 'ChangeSetting', name: 'no.such', value: 1 }).thenFails('SETTING_NOT_FOUND');
  });

  it('folds changes into current values, defaults elsewhere', () => {
    const state = fold(settingsDecider, [{ type: 'SettingChanged', data: { name: 'session.timeout', value: 600, previous: 7200 } }]);
    expect(settingValue(state, 'session.timeout')).toBe(600);
    expect(allSettings({}).find((s) => s.name === 'session.timeout')?.value).toBe(7200);
  });
});
