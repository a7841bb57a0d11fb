import { describe, expect, it } from 'vitest';
import { Keyring, SecretDecryptionError, type SealedValue } from '../../../src/infrastructure/secrets/keyring.js';
import { freshKey } from '../../support/encryption-keys.js';

describe('keyring (AES-256-GCM)', () => {
  const current = freshKey().key;
  const previous = freshKey().key;
  const keyring = new Keyring([current, previous]);
  const token = 'EAAB-page-token-8f3a2c';

  function flip(bytes: Buffer, index = 0): Buffer {
    const copy = Buffer.from(bytes);
    copy[index] = copy[index]! ^ 0x01;
    return copy;
  }

  function refusal(sealed: SealedValue, context: string, ring = keyring): SecretDecryptionError {
    try {
      ring.decrypt(sealed, context);
    } catch (error) {
      expect(error).toBeInstanceOf(SecretDecryptionError);
      return error as SecretDecryptionError;
    }
    throw new Error('decrypted');
  }

  it('round-trips with the current key, a fresh IV each time', () => {
    const a = keyring.encrypt(token, 'platforms/facebook/access_token');
    const b = keyring.encrypt(token, 'platforms/facebook/access_token');
    expect(a.keyId).toBe(current.id);
    expect(a.iv).toHaveLength(12);
    expect(a.authTag).toHaveLength(16);
    expect(a.iv.equals(b.iv)).toBe(false);
    expect(a.ciphertext.toString('utf8')).not.toContain(token);
    expect(keyring.decrypt(a, 'platforms/facebook/access_token')).toBe(token);
    expect(keyring.encrypt('é ü 漢字 🍕', 'x').ciphertext.length).toBeGreaterThan(0);
    expect(keyring.decrypt(keyring.encrypt('é ü 漢字 🍕', 'x'), 'x')).toBe('é ü 漢字 🍕');
  });

  it('reads what a previous key encrypted', () => {
    const sealed = new Keyring([previous]).encrypt(token, 'name');
    expect(keyring.decrypt(sealed, 'name')).toBe(token);
  });

  it('refuses an altered ciphertext, tag or IV', () => {
    const sealed = keyring.encrypt(token, 'name');
    for (const altered of [{ ...sealed, ciphertext: flip(sealed.ciphertext, 3) }, { ...sealed, authTag: flip(sealed.authTag) }, { ...sealed, iv: flip(sealed.iv) }, { ...sealed, authTag: sealed.authTag.subarray(0, 8) }]) {
      const error = refusal(altered, 'name');
      expect(error.reason).toBe('authentication_failed');
      expect(error.message).toMatch(/altered/);
    }
  });

  it('refuses a ciphertext read under another name (AAD)', () => {
    const sealed = keyring.encrypt(token, 'platforms/facebook/access_token');
    expect(refusal(sealed, 'platforms/instagram/access_token').reason).toBe('authentication_failed');
  });

  it('names the missing key when the value was encrypted with one that is not loaded', () => {
    const stranger = freshKey().key;
    const sealed = new Keyring([stranger]).encrypt(token, 'platforms/x/token');
    const error = refusal(sealed, 'platforms/x/token');
    expect(error.reason).toBe('key_not_loaded');
    expect(error.message).toContain(stranger.id);
    expect(error.message).toContain('COMM_ENCRYPTION_PREVIOUS_KEYS');
    expect(error.message).toContain('platforms/x/token');
  });

  it('refuses a wrong key given under the expected id', () => {
    const sealed = keyring.encrypt(token, 'name');
    const impostor = new Keyring([{ id: current.id, material: freshKey().key.material }]);
    expect(refusal(sealed, 'name', impostor).reason).toBe('authentication_failed');
  });

  it('never puts the value in an error', () => {
    const sealed = keyring.encrypt(token, 'name');
    expect(refusal({ ...sealed, authTag: flip(sealed.authTag) }, 'name').message).not.toContain(token);
  });
});
