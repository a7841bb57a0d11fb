import type { Keyring, SealedValue } from './keyring.js';

/**
 * A value encrypted by the keyring, written as one line of text for a column that holds a single string:
 * sealed:v1:<key id>:<iv>:<auth tag>:<ciphertext>, the three last in base64url.
 */

const prefix = 'sealed:v1:';

export function isSealedText(text: string): boolean {
  return text.startsWith(prefix);
}

export function sealText(keyring: Keyring, plaintext: string, context: string): string {
  const { keyId, iv, authTag, ciphertext } = keyring.encrypt(plaintext, context);
  return `${prefix}${keyId}:${iv.toString('base64url')}:${authTag.toString('base64url')}:${ciphertext.toString('base64url')}`;
}

export function openSealedText(keyring: Keyring, text: string, context: string): string {
  return keyring.decrypt(parseSealedText(text, context), context);
}

/** The id of the key that sealed the text: whether a rotation has to re-seal it. */
export function sealedTextKeyId(text: string, context: string): string {
  return parseSealedText(text, context).keyId;
}

function parseSealedText(text: string, context: string): SealedValue {
  const parts = isSealedText(text) ? text.slice(prefix.length).split(':') : [];
  if (parts.length !== 4 || !parts[0] || !parts[1] || !parts[2]) {
    throw new RangeError(`Secret "${context}" is not sealed text (sealed:v1:…)`);
  }
  const [keyId, iv, authTag, ciphertext] = parts as [string, string, string, string];
  return { keyId, iv: Buffer.from(iv, 'base64url'), authTag: Buffer.from(authTag, 'base64url'), ciphertext: Buffer.from(ciphertext, 'base64url') };
}
