import { ConfigError } from '../config/env.js';
import type { SharedDatabase } from '../database/kysely.js';
import type { Logger } from '../logging/logger.js';
import { loadKeyring, type KeyringEnv } from './load-keyring.js';
import { SecretVault } from './secret-vault.js';

/**
 * The vault the service runs with (after the migrations). Start-up stops when a stored secret was encrypted with a key
 * that is not loaded: running on would only fail later, one platform call at a time, far from the cause.
 */
export async function openVault(db: SharedDatabase, env: KeyringEnv, logger: Logger): Promise<SecretVault> {
  const { keyring, source } = await loadKeyring(env, logger);
  const vault = new SecretVault(db, keyring);
  const counts = await vault.countByKey();
  const missing = [...counts].filter(([keyId]) => !keyring.has(keyId));
  if (missing.length > 0) {
    const described = missing.map(([keyId, count]) => `${count} under key ${keyId}`).join(', ');
    // A key generated just now means this data dir is new: most likely a process beside others on a shared database.
    const generated = source === 'generated' ? ' This process has just generated its key: every process on one database needs the same one (COMM_ENCRYPTION_KEY or COMM_ENCRYPTION_KEY_FILE), and a data dir must outlive restarts.' : '';
    throw new ConfigError(
      `The token vault holds secrets encrypted with keys that are not loaded (${described}; loaded: ${keyring.keyIds.join(', ')}).${generated} ` +
        'Give those keys in COMM_ENCRYPTION_PREVIOUS_KEYS. If a key is lost for good, delete its rows from the secrets table and put those secrets again.',
    );
  }
  const onPrevious = [...counts].filter(([keyId]) => keyId !== keyring.currentKeyId).reduce((sum, [, count]) => sum + count, 0);
  if (onPrevious > 0) logger.warn({ secrets: onPrevious }, 'secrets still encrypted with a previous key: run npm run keys:rotate');
  return vault;
}
