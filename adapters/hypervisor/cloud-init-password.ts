// SHA-512 crypt (`$6$`, Drepper's SHA-crypt, the format of /etc/shadow) so that a root
// password reaches the cloud-init seed only as a hash: the seed ISO lies on the host's disk
// and inside the guest (/dev/sr0) long after first boot, so it must not hold the plaintext.
// Node's crypto has no crypt(3); the algorithm is short and checked against the reference
// vectors in the unit tests.
import { createHash, randomBytes } from 'node:crypto';

const alphabet = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const defaultRounds = 5000;

/** Byte triples of the final digest, in the order SHA-crypt encodes them. */
const order = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48], [28, 49, 7], [50, 8, 29], [9, 30, 51],
  [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13], [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19],
  [62, 20, 41],
] as const;

const sha512 = (...parts: Buffer[]) => {
  const hash = createHash('sha512');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/** `length` bytes made of `block` repeated. */
function stretch(block: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let offset = 0; offset < length; offset += block.length) block.copy(out, offset, 0, Math.min(block.length, length - offset));
  return out;
}

function encode24(b2: number, b1: number, b0: number, chars: number): string {
  let word = (b2 << 16) | (b1 << 8) | b0;
  let out = '';
  for (let i = 0; i < chars; i++) {
    out += alphabet[word & 0x3f];
    word >>>= 6;
  }
  return out;
}

/** `$6$<salt>$<hash>` of `password`; `salt` (at most 16 characters used) is random when absent. */
export function sha512Crypt(password: string, salt?: string, rounds = defaultRounds): string {
  const saltText = (salt ?? [...randomBytes(16)].map((byte) => alphabet[byte & 0x3f]).join('')).slice(0, 16);
  const p = Buffer.from(password, 'utf8');
  const s = Buffer.from(saltText, 'utf8');

  const b = sha512(p, s, p);
  const aParts: Buffer[] = [p, s];
  let remaining = p.length;
  for (; remaining > 64; remaining -= 64) aParts.push(b);
  aParts.push(b.subarray(0, remaining));
  for (let bits = p.length; bits > 0; bits >>= 1) aParts.push(bits & 1 ? b : p);
  let a = sha512(...aParts);

  const pBytes = stretch(sha512(...Array<Buffer>(p.length).fill(p)), p.length);
  const sBytes = stretch(sha512(...Array<Buffer>(16 + a[0]!).fill(s)), s.length);

  for (let round = 0; round < rounds; round++) {
    const parts: Buffer[] = [round & 1 ? pBytes : a];
    if (round % 3 !== 0) parts.push(sBytes);
    if (round % 7 !== 0) parts.push(pBytes);
    parts.push(round & 1 ? a : pBytes);
    a = sha512(...parts);
  }

  let hash = '';
  for (const [x, y, z] of order) hash += encode24(a[x]!, a[y]!, a[z]!, 4);
  hash += encode24(0, 0, a[63]!, 2);
  const roundsPart = rounds === defaultRounds ? '' : `rounds=${rounds}$`;
  return `$6$${roundsPart}${saltText}$${hash}`;
}
