import type { EventStore } from '../../adapters/eventstore/port.js';
import { settingsDecider, settingsStream, settingValue, type SettingsState } from '../../domain/settings/settings.js';
import type { SettingValue } from '../../domain/settings/definitions.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';
import type { TaskWorkContext } from '../tasks/tasks.js';

/** The current settings, read from their stream (small, and always up to date). */
export async function readSettings(store: EventStore): Promise<SettingsState> {
  return (await loadAggregate(store, settingsDecider, settingsStream)).state;
}

export async function readSetting(store: EventStore, name: string): Promise<SettingValue> {
  return settingValue(await readSettings(store), name);
}

export async function changeSetting(store: EventStore, task: TaskWorkContext, name: string, value: unknown, expectedVersion?: number) {
  const outcome = await handleCommand(store, settingsDecider, settingsStream, { type: 'ChangeSetting', name, value }, task.metadata,
    expectedVersion === undefined ? {} : { expectedVersion });
  return { name, value: settingValue(outcome.state, name), position: outcome.position };
}
