import { sql } from 'kysely';
import { rotateWebhookSecrets } from '../../webhooks/webhook-secrets.js';
import { ConfigError, loadEnv } from '../config/env.js';
import { createKysely, type SharedDatabase } from '../database/kysely.js';
import { createLogger } from '../logging/logger.js';
import { openSqlClient } from '../storage.js';
import { loadKeyring } from './load-keyring.js';
import { rotateVault } from './rotate-vault.js';
import { SecretVault } from './secret-vault.js';

/**
 * npm run keys:rotate — re-encrypts the token vault and the webhook secrets with COMM_ENCRYPTION_KEY (or
 * COMM_ENCRYPTION_KEY_FILE), reading with the keys of COMM_ENCRYPTION_PREVIOUS_KEYS. With PostgreSQL it runs beside
 * the service; restart every process with the new key (and the old one as previous) first, then rotate, then drop the
 * old key. Prints counts, never a value.
 */

const offlineFlag = '--service-stopped';

async function main(): Promise<number> {
  const env = loadEnv();
  if (!env.DATABASE_URL && !process.argv.includes(offlineFlag)) {
    // PGlite's data directory belongs to one process: opening it beside the running service would corrupt it.
    throw new ConfigError(`Without DATABASE_URL the data lives in PGlite, which one process at a time may open: stop the service, then run npm run keys:rotate -- ${offlineFlag}`);
  }
  const { keyring } = await loadKeyring(env, createLogger('warn'), { generate: false });
  const previous = keyring.keyIds.slice(1);
  print(`Current key ${keyring.currentKeyId}; previous keys: ${previous.length > 0 ? previous.join(', ') : 'none'}`);
  const client = await openSqlClient(env);
  const db = createKysely(client);
  try {
    let incomplete = 0;
    if (await tableExists(db, 'secrets')) {
      const vault = await rotateVault(db, keyring);
      print(`Vault: ${vault.rotated} re-encrypted, ${vault.alreadyCurrent} already under the current key, ${vault.unreadable} unreadable, ${vault.contended} still being rewritten by a process with an old key`);
      incomplete += vault.unreadable + vault.contended;
      const left = [...(await new SecretVault(db, keyring).countByKey())].filter(([keyId]) => keyId !== keyring.currentKeyId);
      for (const [keyId, count] of left) print(`  ${count} secret(s) still under key ${keyId}`);
    } else {
      print('Vault: no secrets table yet (the service has never started on this database)');
    }
    if (await tableExists(db, 'webhook_subscriptions')) {
      const webhooks = await rotateWebhookSecrets(db, keyring);
      print(`Webhook secrets: ${webhooks.resealed} re-encrypted, ${webhooks.alreadyCurrent} already under the current key, ${webhooks.unreadable} unreadable`);
      incomplete += webhooks.unreadable;
    }
    if (incomplete > 0) {
      print('Not everything is under the current key: keep the previous keys, give the missing ones in COMM_ENCRYPTION_PREVIOUS_KEYS, and run again.');
      return 1;
    }
    print('Everything is under the current key: the previous keys are no longer needed.');
    return 0;
  } finally {
    await client.close().catch(() => undefined);
  }
}

async function tableExists(db: SharedDatabase, table: string): Promise<boolean> {
  // Resolved through the search path, as the service's unqualified table names are.
  const { rows } = await sql<{ found: string | null }>`select to_regclass(${table})::text as found`.execute(db);
  return rows[0]?.found != null;
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`Key rotation failed: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
