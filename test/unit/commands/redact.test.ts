import { describe, expect, it } from 'vitest';
import { redactSecrets } from '../../../commands/shared/redact.js';

describe('redaction of requests', () => {
  it('replaces secret-looking fields at any depth and keeps the rest', () => {
    expect(redactSecrets({ name: 'h1', password: 'p', nested: { accessKeySecret: 's', totp: '123456', list: [{ token: 't', ok: 1 }] } })).toEqual({
      name: 'h1', password: '***', nested: { accessKeySecret: '***', totp: '***', list: [{ token: '***', ok: 1 }] },
    });
  });
});
