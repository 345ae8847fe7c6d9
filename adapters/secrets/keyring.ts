import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SecretBox } from './port.js';

// AES-256-GCM with a key ring. A sealed value is `v1.<keyId>.<iv>.<tag>.<ciphertext>`
// (base64url parts); the key id is derived from the key, so values sealed with a retired
// key still open while it stays in the ring.

const keyIdOf = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 12);

export function parseMasterKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) throw new Error('a master key must be 32 bytes, given as 64 hex digits or base64');
  return key;
}

/** `keys[0]` seals; every key opens what it sealed. */
export function createKeyRing(keys: Buffer[]): SecretBox {
  if (keys.length === 0) throw new Error('the key ring needs at least one key');
  const byId = new Map(keys.map((key) => [keyIdOf(key), key]));
  const current = keys[0]!;
  const currentId = keyIdOf(current);
  return {
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current, iv);
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', currentId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join('.');
    },
    open(sealed) {
      const [version, keyId, iv, tag, ciphertext] = sealed.split('.');
      if (version !== 'v1' || !keyId || !iv || !tag || ciphertext === undefined) throw new Error('not a sealed secret');
      const key = byId.get(keyId);
      if (!key) throw new Error(`secret sealed with key ${keyId}, which is not in the key ring`);
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}

/**
 * The master key from `STRATUS_MASTER_KEY`, or from a key file that is created (mode 0600)
 * on first start. Retired keys, still needed to open old values, come from
 * `STRATUS_PREVIOUS_MASTER_KEYS` (comma-separated).
 */
export function loadKeyRing(options: { masterKey?: string; previousKeys?: string; keyFile: string }): SecretBox {
  let master: Buffer;
  if (options.masterKey) {
    master = parseMasterKey(options.masterKey);
  } else if (existsSync(options.keyFile)) {
    master = parseMasterKey(readFileSync(options.keyFile, 'utf8'));
  } else {
    master = randomBytes(32);
    mkdirSync(dirname(options.keyFile), { recursive: true });
    writeFileSync(options.keyFile, master.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(options.keyFile, 0o600);
  }
  const previous = (options.previousKeys ?? '').split(',').filter((text) => text.trim() !== '').map(parseMasterKey);
  return createKeyRing([master, ...previous]);
}
