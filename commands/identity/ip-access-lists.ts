import type { EventStore } from '../../adapters/eventstore/port.js';
import type { Clock } from '../../adapters/clock/port.js';
import { parseIpAddress } from '../../domain/identity/ip-address.js';
import {
  decideLoginIp, ipAccessListsDecider, ipAccessListsStream, type IpAccessList, type IpAccessListCommand, type IpDecision, type IpListType,
} from '../../domain/identity/ip-access-list.js';
import { DomainError } from '../../domain/shared/errors.js';
import { settingValue, type SettingsState } from '../../domain/settings/settings.js';
import { handleCommand, loadAggregate } from '../shared/handle-command.js';
import { newId } from '../shared/ids.js';
import type { TaskWorkContext } from '../tasks/tasks.js';
import { readSettings } from '../settings/settings.js';

export async function loadIpAccessLists(store: EventStore) {
  return loadAggregate(store, ipAccessListsDecider, ipAccessListsStream);
}

/** Whether a client address may log in (or sign requests) now, by the lists and the setting as they stand. */
export async function checkClientAddress(store: EventStore, clientIp: string | undefined, knownSettings?: SettingsState): Promise<IpDecision> {
  const settings = knownSettings ?? await readSettings(store);
  const enabled = settingValue(settings, 'ipAccessList.enabled') === true;
  if (!enabled) return decideLoginIp({}, false, undefined);
  const { state } = await loadIpAccessLists(store);
  return decideLoginIp(state, true, clientIp ? parseIpAddress(clientIp) : undefined);
}

export async function createIpAccessList(
  deps: { store: EventStore; clock: Clock },
  task: TaskWorkContext,
  input: { name: string; type: IpListType; entries: string[]; description?: string },
): Promise<IpAccessList> {
  const list: IpAccessList = { listId: newId(), name: input.name, type: input.type, entries: input.entries, description: input.description ?? '' };
  const outcome = await handleCommand(deps.store, ipAccessListsDecider, ipAccessListsStream, { type: 'CreateIpAccessList', list, now: deps.clock.now() }, task.metadata);
  return outcome.state[list.listId]!;
}

export async function changeIpAccessList(
  deps: { store: EventStore; clock: Clock },
  task: TaskWorkContext,
  listId: string,
  input: { name?: string; entries?: string[]; description?: string },
): Promise<IpAccessList> {
  const command: Extract<IpAccessListCommand, { type: 'ChangeIpAccessList' }> = { type: 'ChangeIpAccessList', listId, now: deps.clock.now() };
  if (input.name !== undefined) command.name = input.name;
  if (input.entries !== undefined) command.entries = input.entries;
  if (input.description !== undefined) command.description = input.description;
  const outcome = await handleCommand(deps.store, ipAccessListsDecider, ipAccessListsStream, command, task.metadata);
  const list = outcome.state[listId];
  if (!list) throw new DomainError('IP_ACCESS_LIST_NOT_FOUND', `no IP list ${listId}`, 'not_found');
  return list;
}

export async function deleteIpAccessList(deps: { store: EventStore; clock: Clock }, task: TaskWorkContext, listId: string): Promise<void> {
  await handleCommand(deps.store, ipAccessListsDecider, ipAccessListsStream, { type: 'DeleteIpAccessList', listId, now: deps.clock.now() }, task.metadata);
}
