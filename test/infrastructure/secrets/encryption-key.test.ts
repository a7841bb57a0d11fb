import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isEncryptionKeyText, keyIdOf, parseEncryptionKey } from '../../../src/infrastructure/secrets/encryption-key.js';

describe('encryption keys', () => {
  const bytes = randomBytes(32);
  const id = keyIdOf(bytes);

  it('reads 32 bytes written as hex, base64 or base64url, or raw', () => {
    for (const text of [bytes.toString('hex'), bytes.toString('base64'), bytes.toString('base64url'), ` ${bytes.toString('base64')}\n`]) {
      expect(isEncryptionKeyText(text)).toBe(true);
      expect(parseEncryptionKey(text, 'COMM_ENCRYPTION_KEY').id).toBe(id);
    }
    expect(parseEncryptionKey(bytes, 'key file').id).toBe(id);
  });

  it('names the key by the start of its SHA-256', () => {
    expect(id).toMatch(/^[0-9a-f]{8}$/);
    expect(keyIdOf(randomBytes(32))).not.toBe(id);
  });

  it('refuses anything else, naming where it came from and never echoing it', () => {
    for (const text of ['short', randomBytes(16).toString('hex'), randomBytes(48).toString('base64'), `${bytes.toString('hex')}zz`]) {
      expect(isEncryptionKeyText(text)).toBe(false);
      expect(() => parseEncryptionKey(text, 'COMM_ENCRYPTION_KEY')).toThrow(/COMM_ENCRYPTION_KEY must be 32 bytes/);
      try {
        parseEncryptionKey(text, 'COMM_ENCRYPTION_KEY');
      } catch (error) {
        expect((error as Error).message).not.toContain(text);
      }
    }
  });

  it('keeps the material out of logs and JSON', () => {
    const key = parseEncryptionKey(bytes.toString('hex'), 'test');
    expect(JSON.stringify(key)).not.toContain(bytes.toString('hex'));
    expect(JSON.stringify(key)).not.toContain(bytes.toString('base64'));
  });
});
