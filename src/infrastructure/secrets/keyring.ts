import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { EncryptionKey } from './encryption-key.js';

/** One encrypted value: AES-256-GCM output and the id of the key that made it. */
export interface SealedValue {
  keyId: string;
  iv: Buffer;
  ciphertext: Buffer;
  authTag: Buffer;
}

export class SecretDecryptionError extends Error {
  constructor(
    message: string,
    readonly reason: 'key_not_loaded' | 'authentication_failed',
  ) {
    super(message);
    this.name = 'SecretDecryptionError';
  }
}

const ivBytes = 12;
const authTagBytes = 16;

/**
 * The cipher of the token vault: encrypts with the current key, decrypts with whichever loaded key made the value,
 * so values written before a rotation stay readable until they are re-encrypted.
 *
 * Every value is bound to a context (the secret's name) as additional authenticated data: a ciphertext copied under
 * another name fails to decrypt, so rows cannot be swapped to hand one platform's token to another.
 */
export class Keyring {
  readonly current: EncryptionKey;
  private readonly byId: Map<string, EncryptionKey>;

  /** keys[0] is the current key; the others are only read with. */
  constructor(keys: readonly EncryptionKey[]) {
    if (keys.length === 0) throw new RangeError('a keyring needs at least one key');
    this.current = keys[0]!;
    this.byId = new Map(keys.map((key) => [key.id, key]));
  }

  get currentKeyId(): string {
    return this.current.id;
  }

  /** Ids of every loaded key, the current one first. */
  get keyIds(): string[] {
    return [this.current.id, ...[...this.byId.keys()].filter((id) => id !== this.current.id)];
  }

  has(keyId: string): boolean {
    return this.byId.has(keyId);
  }

  encrypt(plaintext: string, context: string): SealedValue {
    const iv = randomBytes(ivBytes);
    const cipher = createCipheriv('aes-256-gcm', this.current.material, iv, { authTagLength: authTagBytes });
    cipher.setAAD(aad(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { keyId: this.current.id, iv, ciphertext, authTag: cipher.getAuthTag() };
  }

  decrypt(sealed: SealedValue, context: string): string {
    const key = this.byId.get(sealed.keyId);
    if (!key) {
      throw new SecretDecryptionError(
        `Secret "${context}" is encrypted with key ${sealed.keyId}, which is not loaded (loaded: ${this.keyIds.join(', ')}). ` +
          'Give that key in COMM_ENCRYPTION_PREVIOUS_KEYS (or as COMM_ENCRYPTION_KEY) to read it.',
        'key_not_loaded',
      );
    }
    if (sealed.iv.length !== ivBytes || sealed.authTag.length !== authTagBytes) throw tampered(context, sealed.keyId);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.material, sealed.iv, { authTagLength: authTagBytes });
      decipher.setAAD(aad(context));
      decipher.setAuthTag(sealed.authTag);
      return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
    } catch {
      throw tampered(context, sealed.keyId);
    }
  }
}

// Versioned so that a later change of what the context covers cannot be confused with this one.
function aad(context: string): Buffer {
  return Buffer.from(`comm-vault/v1\n${context}`, 'utf8');
}

function tampered(context: string, keyId: string): SecretDecryptionError {
  return new SecretDecryptionError(
    `Secret "${context}" does not decrypt with key ${keyId}: its ciphertext, authentication tag or name was altered, or the key given under that id is not the one that encrypted it`,
    'authentication_failed',
  );
}
