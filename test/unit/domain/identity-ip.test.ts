import { describe, expect, it } from 'vitest';
import { decideLoginIp, ipAccessListsDecider, maxEntriesPerList, type IpAccessList, type IpAccessListsState } from '../../../domain/identity/ip-access-list.js';
import { entryMatches, parseIpAddress, parseIpEntry } from '../../../domain/identity/ip-address.js';
import { scenario } from '../../support/given-when-then.js';

const address = (text: string) => {
  const parsed = parseIpAddress(text);
  if (!parsed) throw new Error(`not an address: ${text}`);
  return parsed;
};

describe('IP addresses, ranges and CIDR blocks', () => {
  it('reads IPv4, IPv6, IPv4-mapped IPv6 (as IPv4) and ignores zone indexes', () => {
    expect(parseIpAddress('192.0.2.7')).toEqual({ version: 4, value: 0xc0000207n });
    expect(parseIpAddress('::ffff:192.0.2.7')).toEqual({ version: 4, value: 0xc0000207n });
    expect(parseIpAddress('2001:db8::1')).toEqual({ version: 6, value: (0x20010db8n << 96n) | 1n });
    expect(parseIpAddress('fe80::1%eth0')?.version).toBe(6);
    expect(parseIpAddress('::')).toEqual({ version: 6, value: 0n });
    for (const bad of ['', '1.2.3', '1.2.3.256', '01.2.3.4', '1::2::3', '12345::', 'abc', '1.2.3.4/24', '::ffff:1.2.3']) {
      expect(parseIpAddress(bad), bad).toBeUndefined();
    }
  });

  it('matches single addresses, ranges and CIDRs of both versions', () => {
    expect(entryMatches('192.0.2.7', address('192.0.2.7'))).toBe(true);
    expect(entryMatches('192.0.2.7', address('192.0.2.8'))).toBe(false);
    expect(entryMatches('192.0.2.10-192.0.2.20', address('192.0.2.20'))).toBe(true);
    expect(entryMatches('192.0.2.10-192.0.2.20', address('192.0.2.21'))).toBe(false);
    expect(entryMatches('10.0.0.0/8', address('10.255.255.255'))).toBe(true);
    expect(entryMatches('10.0.0.0/8', address('11.0.0.0'))).toBe(false);
    expect(entryMatches('0.0.0.0/0', address('203.0.113.1'))).toBe(true);
    expect(entryMatches('2001:db8::/32', address('2001:db8:ffff::1'))).toBe(true);
    expect(entryMatches('2001:db8::/32', address('2001:db9::1'))).toBe(false);
    expect(entryMatches('2001:db8::1-2001:db8::ff', address('2001:db8::80'))).toBe(true);
    // Versions never mix: an IPv4 block does not hold an IPv6 address.
    expect(entryMatches('0.0.0.0/0', address('2001:db8::1'))).toBe(false);
    // A host address with a prefix is the block that contains it.
    expect(parseIpEntry('192.0.2.77/24')).toEqual({ version: 4, first: 0xc0000200n, last: 0xc00002ffn });
    for (const bad of ['192.0.2.0/33', '2001:db8::/129', '192.0.2.9-192.0.2.1', '192.0.2.1-2001:db8::1', '192.0.2.0/24/1', 'example.com', '']) {
      expect(parseIpEntry(bad), bad).toBeUndefined();
    }
  });
});

const list = (listId: string, type: 'allow' | 'block', entries: string[]): IpAccessList => ({ listId, name: listId, type, entries, description: '' });
const lists = (...items: IpAccessList[]): IpAccessListsState => Object.fromEntries(items.map((item) => [item.listId, item]));

describe('the login truth table of the seed (reference/002, IP Allowlist/Blocklist)', () => {
  const onBoth = '192.0.2.7';
  const onlyBlocked = '192.0.2.8';
  const onlyAllowed = '198.51.100.1';
  const neither = '203.0.113.9';
  const blocklist = list('block', 'block', ['192.0.2.0/24']);
  const allowlist = list('allow', 'allow', ['192.0.2.7', '198.51.100.0/24']);
  const allowed = (state: IpAccessListsState, enabled: boolean, ip: string) => decideLoginIp(state, enabled, address(ip)).allowed;

  const table: Array<[why: string, enabled: boolean, state: IpAccessListsState, ip: string, expected: boolean]> = [
    ['the feature is off by default: lists take no effect', false, lists(blocklist, allowlist), onlyBlocked, true],
    ['no lists: everyone', true, lists(), neither, true],
    ['only a blocklist: listed addresses refused', true, lists(blocklist), onlyBlocked, false],
    ['only a blocklist: others allowed', true, lists(blocklist), neither, true],
    ['an allowlist alone takes no effect', true, lists(allowlist), neither, true],
    ['an allowlist with an empty blocklist takes no effect', true, lists(allowlist, list('empty', 'block', [])), neither, true],
    ['on both lists: the allowlist wins', true, lists(blocklist, allowlist), onBoth, true],
    ['allowlisted', true, lists(blocklist, allowlist), onlyAllowed, true],
    ['blocklisted and not allowlisted', true, lists(blocklist, allowlist), onlyBlocked, false],
    ['on neither list: allowed', true, lists(blocklist, allowlist), neither, true],
  ];
  it.each(table)('%s', (_why, enabled, state, ip, expected) => {
    expect(allowed(state, enabled, ip)).toBe(expected);
  });

  it('names the list that decided', () => {
    expect(decideLoginIp(lists(blocklist, allowlist), true, address(onBoth))).toEqual({ allowed: true, rule: 'allowlisted', list: { listId: 'allow', name: 'allow' } });
    expect(decideLoginIp(lists(blocklist), true, address(onlyBlocked))).toEqual({ allowed: false, rule: 'blocklisted', list: { listId: 'block', name: 'block' } });
  });

  it('works the same for IPv6 and for IPv4 seen through a dual-stack socket', () => {
    const state = lists(list('b', 'block', ['2001:db8::/32', '192.0.2.0/24']), list('a', 'allow', ['2001:db8::7']));
    expect(allowed(state, true, '2001:db8::8')).toBe(false);
    expect(allowed(state, true, '2001:db8::7')).toBe(true);
    expect(allowed(state, true, '::ffff:192.0.2.8')).toBe(false);
  });
});

describe('IP list decider', () => {
  const lists = scenario(ipAccessListsDecider);
  const created = { type: 'IpAccessListCreated' as const, data: { ...list('l1', 'block', ['192.0.2.0/24']), name: 'office', at: 1 } };

  it('creates a list with valid, de-duplicated entries', () => {
    lists.given().when({ type: 'CreateIpAccessList', list: { ...list('l1', 'block', [' 192.0.2.0/24', '192.0.2.0/24 ']), name: 'office' }, now: 1 })
      .then([created]);
  });

  it('refuses bad entries, more than 100 entries, and a name in use', () => {
    lists.given().when({ type: 'CreateIpAccessList', list: list('l1', 'block', ['192.0.2.0/24', 'nope']), now: 1 }).thenFails('INVALID_IP_ENTRIES');
    const many = Array.from({ length: maxEntriesPerList + 1 }, (_, index) => `10.0.${Math.floor(index / 250)}.${index % 250}`);
    lists.given().when({ type: 'CreateIpAccessList', list: list('l1', 'block', many), now: 1 }).thenFails('INVALID_IP_ENTRIES');
    lists.given().when({ type: 'CreateIpAccessList', list: list('l1', 'block', many.slice(0, maxEntriesPerList)), now: 1 })
      .then([{ type: 'IpAccessListCreated', data: { ...list('l1', 'block', many.slice(0, maxEntriesPerList)), at: 1 } }]);
    lists.given(created).when({ type: 'CreateIpAccessList', list: { ...list('l2', 'allow', []), name: 'OFFICE' }, now: 2 }).thenFails('IP_ACCESS_LIST_NAME_TAKEN');
  });

  it('changes and deletes a list', () => {
    lists.given(created).when({ type: 'ChangeIpAccessList', listId: 'l1', entries: ['2001:db8::/32'], now: 2 })
      .then([{ type: 'IpAccessListChanged', data: { listId: 'l1', name: 'office', entries: ['2001:db8::/32'], description: '', at: 2 } }]);
    lists.given(created).when({ type: 'ChangeIpAccessList', listId: 'l1', entries: ['192.0.2.0/24'], now: 2 }).then([]);
    lists.given(created).when({ type: 'DeleteIpAccessList', listId: 'l1', now: 3 })
      .then([{ type: 'IpAccessListDeleted', data: { listId: 'l1', name: 'office', at: 3 } }]);
    lists.given().when({ type: 'DeleteIpAccessList', listId: 'l1', now: 3 }).thenFails('IP_ACCESS_LIST_NOT_FOUND');
  });
});
