import type { Kysely } from 'kysely';
import type { SharedDatabase } from '../database/kysely.js';
import { SecretDecryptionError, type Keyring } from './keyring.js';
import { sealedValueOf } from './secret-vault.js';
import type { SecretsTable } from './secrets-table.js';

export interface VaultRotationOutcome {
  /** Re-encrypted with the current key by this run. */
  rotated: number;
  /** Already under the current key, or put again meanwhile by the running service (which uses the current key). */
  alreadyCurrent: number;
  /** Encrypted with a key that is not loaded, or altered: left as they are. */
  unreadable: number;
  /** Still under another key because the service kept rewriting them with it: run again once every process has the new key. */
  contended: number;
}

/** Rewrites of one row that may lose to concurrent puts before the row is left for a later run. */
const attemptsPerSecret = 5;

/**
 * Re-encrypts, with the keyring's current key, every secret encrypted with another one, while the service runs.
 * Row by row, each in a short transaction whose update only applies if the row still holds what was read (same key
 * id and same IV: a put draws a new IV), so a put that lands in between is never overwritten with the older value.
 */
export async function rotateVault(db: SharedDatabase, keyring: Keyring): Promise<VaultRotationOutcome> {
  const table = db as Kysely<SecretsTable>;
  const outcome: VaultRotationOutcome = { rotated: 0, alreadyCurrent: 0, unreadable: 0, contended: 0 };
  const current = await table.selectFrom('secrets').select((eb) => eb.fn.countAll<string>().as('count')).where('key_id', '=', keyring.currentKeyId).executeTakeFirstOrThrow();
  outcome.alreadyCurrent = Number(current.count);
  const names = await table.selectFrom('secrets').select('name').where('key_id', '<>', keyring.currentKeyId).orderBy('name').execute();
  for (const { name } of names) {
    const result = await rotateOne(table, keyring, name);
    if (result === 'gone') continue;
    outcome[result]++;
  }
  return outcome;
}

async function rotateOne(table: Kysely<SecretsTable>, keyring: Keyring, name: string): Promise<'rotated' | 'alreadyCurrent' | 'unreadable' | 'contended' | 'gone'> {
  for (let attempt = 0; attempt < attemptsPerSecret; attempt++) {
    const result = await table.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('secrets').select(['key_id', 'iv', 'ciphertext', 'auth_tag']).where('name', '=', name).executeTakeFirst();
      if (!row) return 'gone' as const;
      if (row.key_id === keyring.currentKeyId) return 'alreadyCurrent' as const;
      let plaintext: string;
      try {
        plaintext = keyring.decrypt(sealedValueOf(row), name);
      } catch (error) {
        if (error instanceof SecretDecryptionError) return 'unreadable' as const;
        throw error;
      }
      const sealed = keyring.encrypt(plaintext, name);
      const updated = await trx
        .updateTable('secrets')
        .set({ key_id: sealed.keyId, iv: sealed.iv, ciphertext: sealed.ciphertext, auth_tag: sealed.authTag })
        .where('name', '=', name)
        .where('key_id', '=', row.key_id)
        .where('iv', '=', row.iv)
        .returning('name')
        .executeTakeFirst();
      return updated ? ('rotated' as const) : ('changed' as const);
    });
    if (result !== 'changed') return result;
  }
  return 'contended';
}
