import { createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';

/**
 * An AES-256 key of the token vault and the id stored beside every ciphertext it made. The id is the first 8 hex
 * digits of the key's SHA-256: enough to tell keys apart and to name the missing one in an error, nothing that helps
 * guess a 256-bit key. The material is held as a KeyObject so that logging a key by mistake prints no bytes.
 */
export interface EncryptionKey {
  id: string;
  material: KeyObject;
}

export const ENCRYPTION_KEY_BYTES = 32;

const hexForm = /^[0-9a-fA-F]{64}$/;
// Standard or URL-safe alphabet, padding optional: 43 characters carry 32 bytes.
const base64Form = /^[A-Za-z0-9+/_-]{43}=?$/;

/** Whether text is 32 bytes written as hex (64 digits) or base64 (43 or 44 characters). */
export function isEncryptionKeyText(text: string): boolean {
  const trimmed = text.trim();
  return hexForm.test(trimmed) || base64Form.test(trimmed);
}

/** The key written as hex or base64; a raw 32-byte buffer (a key file made with head -c 32 /dev/urandom) also works. */
export function parseEncryptionKey(source: string | Buffer, origin: string): EncryptionKey {
  if (Buffer.isBuffer(source) && source.length === ENCRYPTION_KEY_BYTES) return encryptionKeyFrom(source);
  const text = source.toString().trim();
  if (hexForm.test(text)) return encryptionKeyFrom(Buffer.from(text, 'hex'));
  if (base64Form.test(text)) return encryptionKeyFrom(Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
  // The origin is named, never the text: it may be a mistyped key.
  throw new RangeError(`${origin} must be ${ENCRYPTION_KEY_BYTES} bytes written as hex (64 digits) or base64 (44 characters)`);
}

export function encryptionKeyFrom(bytes: Buffer): EncryptionKey {
  if (bytes.length !== ENCRYPTION_KEY_BYTES) throw new RangeError(`an encryption key is ${ENCRYPTION_KEY_BYTES} bytes, not ${bytes.length}`);
  return { id: keyIdOf(bytes), material: createSecretKey(Buffer.from(bytes)) };
}

export function keyIdOf(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 8);
}

/** A fresh key, as the text a key file or COMM_ENCRYPTION_KEY holds. */
export function generateEncryptionKeyText(): string {
  return randomBytes(ENCRYPTION_KEY_BYTES).toString('base64');
}
