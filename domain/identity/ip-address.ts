// IP addresses, ranges and CIDR blocks, IPv4 and IPv6, as integer intervals so that one
// comparison answers "is this address in that entry". Pure parsing, no lookups.

export interface IpAddress {
  version: 4 | 6;
  value: bigint;
}

/** An allow/block list entry: every address from `first` to `last` of one IP version. */
export interface IpInterval {
  version: 4 | 6;
  first: bigint;
  last: bigint;
}

const ipv4Part = /^(0|[1-9][0-9]{0,2})$/;

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!ipv4Part.test(part)) return undefined;
    const byte = Number(part);
    if (byte > 255) return undefined;
    value = (value << 8n) | BigInt(byte);
  }
  return value;
}

function parseGroups(text: string): number[] | undefined {
  if (text === '') return [];
  const groups: number[] = [];
  const parts = text.split(':');
  for (let index = 0; index < parts.length; index++) {
    const part = parts[index]!;
    if (index === parts.length - 1 && part.includes('.')) {
      const v4 = parseIpv4(part);
      if (v4 === undefined) return undefined;
      groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
      groups.push(parseInt(part, 16));
    }
  }
  return groups;
}

function parseIpv6(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  return groups.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

const v4MappedPrefix = 0xffffn << 32n;

/**
 * An address as a client connection or X-Forwarded-For gives it. An IPv4-mapped IPv6 address
 * (`::ffff:192.0.2.1`, what a dual-stack socket reports) is the IPv4 address it maps; a zone
 * index (`fe80::1%eth0`) is ignored.
 */
export function parseIpAddress(text: string): IpAddress | undefined {
  const trimmed = text.trim();
  if (trimmed.length === 0 || trimmed.length > 64) return undefined;
  const v4 = parseIpv4(trimmed);
  if (v4 !== undefined) return { version: 4, value: v4 };
  const v6 = parseIpv6(trimmed.replace(/%[A-Za-z0-9_.-]+$/, ''));
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === v4MappedPrefix >> 32n) return { version: 4, value: v6 & 0xffffffffn };
  return { version: 6, value: v6 };
}

const bitsOf = (version: 4 | 6) => (version === 4 ? 32 : 128);

/** Why `entry` is not an address, a range `a-b` or a CIDR `a/n`; undefined when it is one. */
export function ipEntryProblem(entry: string): string | undefined {
  return parseIpEntry(entry) ? undefined : `"${entry.slice(0, 100)}" is not an IP address, a range (first-last) or a CIDR block (address/prefix)`;
}

export function parseIpEntry(entry: string): IpInterval | undefined {
  const text = entry.trim();
  if (text.length === 0 || text.length > 100 || text.includes('%')) return undefined;
  if (text.includes('/')) {
    const [base, prefixText, extra] = text.split('/');
    if (extra !== undefined || !base || !prefixText || !/^[0-9]{1,3}$/.test(prefixText)) return undefined;
    const address = parseEntryAddress(base);
    if (!address) return undefined;
    const bits = bitsOf(address.version);
    const prefix = Number(prefixText);
    if (prefix > bits) return undefined;
    const hostBits = BigInt(bits - prefix);
    const first = (address.value >> hostBits) << hostBits;
    return { version: address.version, first, last: first + (1n << hostBits) - 1n };
  }
  if (text.includes('-')) {
    const [from, to, extra] = text.split('-');
    if (extra !== undefined || !from || !to) return undefined;
    const first = parseEntryAddress(from);
    const last = parseEntryAddress(to);
    if (!first || !last || first.version !== last.version || first.value > last.value) return undefined;
    return { version: first.version, first: first.value, last: last.value };
  }
  const address = parseEntryAddress(text);
  return address ? { version: address.version, first: address.value, last: address.value } : undefined;
}

/** Entries name addresses literally: an IPv4-mapped IPv6 entry is taken as the IPv4 address, like a client's. */
function parseEntryAddress(text: string): IpAddress | undefined {
  return parseIpAddress(text.trim());
}

export function intervalContains(interval: IpInterval, address: IpAddress): boolean {
  return interval.version === address.version && address.value >= interval.first && address.value <= interval.last;
}

export function entryMatches(entry: string, address: IpAddress): boolean {
  const interval = parseIpEntry(entry);
  return interval !== undefined && intervalContains(interval, address);
}
