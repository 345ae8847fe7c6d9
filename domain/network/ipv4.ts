// IPv4 arithmetic on 32-bit unsigned numbers, for IP ranges and the IP pool.

const quad = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(text: unknown): text is string {
  return typeof text === 'string' && quad.test(text);
}

export function ipToNumber(ip: string): number {
  return ip.split('.').reduce((value, part) => value * 256 + Number(part), 0);
}

export function numberToIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** The prefix length of a contiguous netmask (255.255.255.0 → 24), or undefined if not one. */
export function prefixLength(netmask: string): number | undefined {
  if (!isIpv4(netmask)) return undefined;
  const value = ipToNumber(netmask);
  const inverted = (~value) >>> 0;
  // A contiguous mask inverted is 2^k - 1: adding one clears every bit.
  if ((inverted & (inverted + 1)) !== 0) return undefined;
  return 32 - Math.log2(inverted + 1);
}

export function networkOf(ip: number, prefix: number): number {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return (ip & mask) >>> 0;
}

export function broadcastOf(ip: number, prefix: number): number {
  const hostBits = prefix === 32 ? 0 : (0xffffffff >>> prefix);
  return (networkOf(ip, prefix) | hostBits) >>> 0;
}
