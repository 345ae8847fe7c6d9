import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';
import { entryMatches, ipEntryProblem, type IpAddress } from './ip-address.js';

// IP allowlists and blocklists for login (reference/002, "IP Allowlist/Blocklist"). All lists
// live in one stream: they are few, change rarely, and every login must see all of them as
// they are now — one small aggregate gives that without a read model's lag.

export const ipAccessListsStream = 'ip-access-lists';
export const maxEntriesPerList = 100;

export type IpListType = 'allow' | 'block';

export interface IpAccessList {
  listId: string;
  name: string;
  type: IpListType;
  entries: string[];
  description: string;
}

export type IpAccessListEvent =
  | DomainEvent<'IpAccessListCreated', IpAccessList & { at: number }>
  | DomainEvent<'IpAccessListChanged', { listId: string; name: string; entries: string[]; description: string; at: number }>
  | DomainEvent<'IpAccessListDeleted', { listId: string; name: string; at: number }>;

export type IpAccessListCommand =
  | { type: 'CreateIpAccessList'; list: IpAccessList; now: number }
  | { type: 'ChangeIpAccessList'; listId: string; name?: string; entries?: string[]; description?: string; now: number }
  | { type: 'DeleteIpAccessList'; listId: string; now: number };

export type IpAccessListsState = Readonly<Record<string, IpAccessList>>;

/** Entries as stored: trimmed; each a valid address, range or CIDR; no repeats; at most 100. */
export function normalizeEntries(entries: readonly string[]): string[] {
  const problems: Array<{ field: string; message: string }> = [];
  const normalized: string[] = [];
  entries.forEach((entry, index) => {
    const problem = ipEntryProblem(entry);
    if (problem) problems.push({ field: `entries.${index}`, message: problem });
    else if (!normalized.includes(entry.trim())) normalized.push(entry.trim());
  });
  if (normalized.length > maxEntriesPerList) problems.push({ field: 'entries', message: `at most ${maxEntriesPerList} entries per list` });
  if (problems.length > 0) throw new DomainError('INVALID_IP_ENTRIES', 'the list has entries that are not valid', 'invalid', { fields: problems });
  return normalized;
}

function assertNameFree(state: IpAccessListsState, name: string, except?: string) {
  const taken = Object.values(state).some((list) => list.listId !== except && list.name.toLowerCase() === name.toLowerCase());
  if (taken) throw new DomainError('IP_ACCESS_LIST_NAME_TAKEN', `an IP list named ${name} exists`, 'conflict', { fields: [{ field: 'name', message: 'is taken' }] });
}

function existing(state: IpAccessListsState, listId: string): IpAccessList {
  const list = state[listId];
  if (!list) throw new DomainError('IP_ACCESS_LIST_NOT_FOUND', `no IP list ${listId}`, 'not_found');
  return list;
}

export const ipAccessListsDecider: Decider<IpAccessListCommand, IpAccessListsState, IpAccessListEvent> = {
  initialState: {},

  decide(command, state) {
    switch (command.type) {
      case 'CreateIpAccessList': {
        if (state[command.list.listId]) throw new DomainError('IP_ACCESS_LIST_EXISTS', `IP list ${command.list.listId} exists`);
        assertNameFree(state, command.list.name);
        const entries = normalizeEntries(command.list.entries);
        return [{ type: 'IpAccessListCreated', data: { ...command.list, entries, at: command.now } }];
      }
      case 'ChangeIpAccessList': {
        const list = existing(state, command.listId);
        const name = command.name ?? list.name;
        if (command.name !== undefined) assertNameFree(state, name, list.listId);
        const entries = command.entries === undefined ? list.entries : normalizeEntries(command.entries);
        const description = command.description ?? list.description;
        if (name === list.name && description === list.description && JSON.stringify(entries) === JSON.stringify(list.entries)) return [];
        return [{ type: 'IpAccessListChanged', data: { listId: list.listId, name, entries, description, at: command.now } }];
      }
      case 'DeleteIpAccessList': {
        const list = existing(state, command.listId);
        return [{ type: 'IpAccessListDeleted', data: { listId: list.listId, name: list.name, at: command.now } }];
      }
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'IpAccessListCreated': {
        const { at: _at, ...list } = event.data;
        return { ...state, [list.listId]: list };
      }
      case 'IpAccessListChanged': {
        const list = state[event.data.listId];
        if (!list) return state;
        return { ...state, [list.listId]: { ...list, name: event.data.name, entries: event.data.entries, description: event.data.description } };
      }
      case 'IpAccessListDeleted': {
        const { [event.data.listId]: _removed, ...rest } = state;
        return rest;
      }
    }
  },
};

export interface IpDecision {
  allowed: boolean;
  /** Why, for the audit log. */
  rule: 'lists-disabled' | 'no-blocklist-entries' | 'allowlisted' | 'blocklisted' | 'not-listed' | 'unknown-address';
  list?: { listId: string; name: string };
}

/**
 * The seed's truth table (reference/002):
 * - the feature is off by default: every address may log in;
 * - no blocklist entry: every address may log in (an allowlist alone takes no effect);
 * - with blocklist entries: an allowlisted address may log in (the allowlist wins when an
 *   address is on both), a blocklisted one may not, any other may.
 * An address that cannot be read is refused once blocklists are in force.
 */
export function decideLoginIp(state: IpAccessListsState, enabled: boolean, address: IpAddress | undefined): IpDecision {
  if (!enabled) return { allowed: true, rule: 'lists-disabled' };
  const lists = Object.values(state);
  const blocklists = lists.filter((list) => list.type === 'block' && list.entries.length > 0);
  if (blocklists.length === 0) return { allowed: true, rule: 'no-blocklist-entries' };
  if (!address) return { allowed: false, rule: 'unknown-address' };
  const matching = (type: IpListType) => lists.find((list) => list.type === type && list.entries.some((entry) => entryMatches(entry, address)));
  const allowlist = matching('allow');
  if (allowlist) return { allowed: true, rule: 'allowlisted', list: { listId: allowlist.listId, name: allowlist.name } };
  const blocklist = matching('block');
  if (blocklist) return { allowed: false, rule: 'blocklisted', list: { listId: blocklist.listId, name: blocklist.name } };
  return { allowed: true, rule: 'not-listed' };
}
