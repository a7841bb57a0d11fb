import { generateEncryptionKeyText, parseEncryptionKey, type EncryptionKey } from '../../src/infrastructure/secrets/encryption-key.js';
import { Keyring } from '../../src/infrastructure/secrets/keyring.js';

/** A fresh random key, and its text as COMM_ENCRYPTION_KEY would hold it. */
export function freshKey(): { key: EncryptionKey; text: string } {
  const text = generateEncryptionKeyText();
  return { key: parseEncryptionKey(text, 'test key'), text };
}

/** A keyring on fresh keys: the first encrypts, the others are only read with. */
export function freshKeyring(count = 1): Keyring {
  return new Keyring(Array.from({ length: count }, () => freshKey().key));
}
