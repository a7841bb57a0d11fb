import type { Kysely } from 'kysely';
import type { SharedDatabase } from '../database/kysely.js';
import type { Keyring, SealedValue } from './keyring.js';
import type { SecretsTable } from './secrets-table.js';

/** What list() shows of a secret: never its value. */
export interface SecretSummary {
  name: string;
  keyId: string;
  updatedAt: Date;
  expiresAt: Date | null;
  metadata: Record<string, unknown>;
}

export interface PutSecretOptions {
  /** After this instant get() answers null: an expired token is as good as none. */
  expiresAt?: Date | null;
  /** Shown by list(); stored in clear, so never a secret. */
  metadata?: Record<string, unknown>;
}

/** The read side of the vault, all that a token consumer needs. */
export interface SecretReader {
  get(name: string): Promise<string | null>;
}

const namePattern = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;
const maxNameLength = 255;

/**
 * Secrets encrypted at rest (AES-256-GCM, see keyring.ts), one row per name such as platforms/facebook/access_token.
 * The name is authenticated with the ciphertext, so a row copied under another name does not decrypt.
 */
export class SecretVault implements SecretReader {
  private readonly db: Kysely<SecretsTable>;

  constructor(
    db: SharedDatabase,
    readonly keyring: Keyring,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.db = db as Kysely<SecretsTable>;
  }

  async put(name: string, plaintext: string, options: PutSecretOptions = {}): Promise<void> {
    checkName(name);
    if (plaintext === '') throw new RangeError(`secret ${name}: an empty value is not a secret; delete it instead`);
    const metadata = options.metadata ?? {};
    if (plaintext.length >= 4 && JSON.stringify(metadata).includes(plaintext)) {
      throw new RangeError(`secret ${name}: its metadata contains its value, and metadata is stored in clear`);
    }
    const sealed = this.keyring.encrypt(plaintext, name);
    const row = { key_id: sealed.keyId, iv: sealed.iv, ciphertext: sealed.ciphertext, auth_tag: sealed.authTag, updated_at: this.now(), expires_at: options.expiresAt ?? null, metadata };
    await this.db
      .insertInto('secrets')
      .values({ name, ...row })
      .onConflict((oc) => oc.column('name').doUpdateSet(row))
      .execute();
  }

  async get(name: string): Promise<string | null> {
    const row = await this.db.selectFrom('secrets').select(['key_id', 'iv', 'ciphertext', 'auth_tag', 'expires_at']).where('name', '=', name).executeTakeFirst();
    if (!row) return null;
    if (row.expires_at && row.expires_at.getTime() <= this.now().getTime()) return null;
    return this.keyring.decrypt(sealedValueOf(row), name);
  }

  /** False when there was no such secret. */
  async delete(name: string): Promise<boolean> {
    // RETURNING rather than the affected-row count, which the PGlite adapter does not report.
    const deleted = await this.db.deleteFrom('secrets').where('name', '=', name).returning('name').executeTakeFirst();
    return deleted !== undefined;
  }

  /** Every secret's name and metadata, by name. */
  async list(): Promise<SecretSummary[]> {
    const rows = await this.db.selectFrom('secrets').select(['name', 'key_id', 'updated_at', 'expires_at', 'metadata']).orderBy('name').execute();
    return rows.map((row) => ({ name: row.name, keyId: row.key_id, updatedAt: row.updated_at, expiresAt: row.expires_at, metadata: row.metadata }));
  }

  /** How many secrets each key encrypted: what a rotation still has to move, what a missing key leaves unreadable. */
  async countByKey(): Promise<Map<string, number>> {
    const rows = await this.db
      .selectFrom('secrets')
      .select((eb) => ['key_id', eb.fn.countAll<string>().as('count')])
      .groupBy('key_id')
      .execute();
    return new Map(rows.map((row) => [row.key_id, Number(row.count)]));
  }
}

export function sealedValueOf(row: { key_id: string; iv: Uint8Array; ciphertext: Uint8Array; auth_tag: Uint8Array }): SealedValue {
  return { keyId: row.key_id, iv: asBuffer(row.iv), ciphertext: asBuffer(row.ciphertext), authTag: asBuffer(row.auth_tag) };
}

// node-postgres answers bytea as a Buffer, PGlite as a plain Uint8Array.
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkName(name: string): void {
  if (name.length > maxNameLength || !namePattern.test(name)) {
    throw new RangeError(`secret name ${JSON.stringify(name.slice(0, 80))}: letters, digits, _ . - in segments separated by /, at most ${maxNameLength} characters`);
  }
}
