import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';
import { findSetting, settingDefinitions, settingValueProblem, type SettingValue } from './definitions.js';

export const settingsStream = 'settings-global';

export type SettingsEvent = DomainEvent<'SettingChanged', { name: string; value: SettingValue; previous: SettingValue }>;

export type SettingsCommand = { type: 'ChangeSetting'; name: string; value: unknown };

/** Values that differ from the defaults. */
export type SettingsState = Record<string, SettingValue>;

export function settingValue(state: SettingsState, name: string): SettingValue {
  const definition = findSetting(name);
  if (!definition) throw new Error(`unknown setting ${name}`);
  return state[name] ?? definition.default;
}

export function allSettings(state: SettingsState) {
  return settingDefinitions.map((definition) => ({ ...definition, value: state[definition.name] ?? definition.default }));
}

export const settingsDecider: Decider<SettingsCommand, SettingsState, SettingsEvent> = {
  initialState: {},

  decide(command, state) {
    const definition = findSetting(command.name);
    if (!definition) throw new DomainError('SETTING_NOT_FOUND', `no setting named ${command.name}`, 'not_found');
    const problem = settingValueProblem(definition, command.value);
    if (problem) {
      throw new DomainError('INVALID_SETTING_VALUE', `${command.name} ${problem}`, 'invalid', {
        fields: [{ field: 'value', message: problem }],
      });
    }
    const value = command.value as SettingValue;
    const previous = settingValue(state, command.name);
    if (previous === value) return [];
    return [{ type: 'SettingChanged', data: { name: command.name, value, previous } }];
  },

  evolve(state, event) {
    return { ...state, [event.data.name]: event.data.value };
  },
};
