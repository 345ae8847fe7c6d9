import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createKeyRing, loadKeyRing } from '../../../adapters/secrets/keyring.js';

describe('secrets key ring', () => {
  it('seals with AES-256-GCM: the plaintext does not appear and opens again', () => {
    const ring = createKeyRing([randomBytes(32)]);
    const sealed = ring.seal('hunter2-host-password');
    expect(sealed).not.toContain('hunter2');
    expect(ring.seal('hunter2-host-password')).not.toBe(sealed);
    expect(ring.open(sealed)).toBe('hunter2-host-password');
  });

  it('detects tampering', () => {
    const ring = createKeyRing([randomBytes(32)]);
    const parts = ring.seal('secret').split('.');
    parts[4] = Buffer.from('SECRET').toString('base64url');
    expect(() => ring.open(parts.join('.'))).toThrow();
  });

  it('opens values sealed with a retired key after rotation', () => {
    const oldKey = randomBytes(32);
    const sealed = createKeyRing([oldKey]).seal('old secret');
    const rotated = createKeyRing([randomBytes(32), oldKey]);
    expect(rotated.open(sealed)).toBe('old secret');
    expect(() => createKeyRing([randomBytes(32)]).open(sealed)).toThrow(/not in the key ring/);
  });

  it('creates a 0600 key file on first start and reuses it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-keys-'));
    const keyFile = join(dir, 'master.key');
    const sealed = loadKeyRing({ keyFile }).seal('persisted');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(loadKeyRing({ keyFile }).open(sealed)).toBe('persisted');
  });

  it('takes the master key from the environment when given', () => {
    const key = randomBytes(32).toString('hex');
    const dir = mkdtempSync(join(tmpdir(), 'stratus-keys-'));
    const sealed = loadKeyRing({ masterKey: key, keyFile: join(dir, 'unused.key') }).seal('x');
    expect(createKeyRing([Buffer.from(key, 'hex')]).open(sealed)).toBe('x');
    expect(() => loadKeyRing({ masterKey: 'short', keyFile: join(dir, 'k') })).toThrow(/32 bytes/);
  });
});
