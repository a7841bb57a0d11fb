import { describe, expect, it } from 'vitest';
import { SecretDecryptionError } from '../../../src/infrastructure/secrets/keyring.js';
import { isSealedText, openSealedText, sealedTextKeyId, sealText } from '../../../src/infrastructure/secrets/sealed-text.js';
import { freshKeyring } from '../../support/encryption-keys.js';

describe('sealed text', () => {
  const keyring = freshKeyring();
  const secret = 'whsec_sealed-text-secret-0099';

  it('is one line naming its key, and opens under its context only', () => {
    const sealed = sealText(keyring, secret, 'webhooks/a/secret');
    expect(sealed).toMatch(new RegExp(`^sealed:v1:${keyring.currentKeyId}:[\\w-]+:[\\w-]+:[\\w-]+$`));
    expect(sealed).not.toContain(secret);
    expect(isSealedText(sealed)).toBe(true);
    expect(sealedTextKeyId(sealed, 'webhooks/a/secret')).toBe(keyring.currentKeyId);
    expect(openSealedText(keyring, sealed, 'webhooks/a/secret')).toBe(secret);
    expect(() => openSealedText(keyring, sealed, 'webhooks/b/secret')).toThrow(SecretDecryptionError);
  });

  it('refuses altered or malformed text', () => {
    const sealed = sealText(keyring, secret, 'c');
    const parts = sealed.split(':');
    const ciphertext = Buffer.from(parts[5]!, 'base64url');
    ciphertext[0] = ciphertext[0]! ^ 1;
    expect(() => openSealedText(keyring, [...parts.slice(0, 5), ciphertext.toString('base64url')].join(':'), 'c')).toThrow(/altered/);
    for (const text of ['whsec_plain', 'sealed:v1:', 'sealed:v1:abc:def', `sealed:v1:${keyring.currentKeyId}::x:y`]) {
      expect(() => openSealedText(keyring, text, 'c')).toThrow();
    }
  });
});
