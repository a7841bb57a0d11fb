import { sealPlaintextWebhookSecrets } from '../../webhooks/webhook-secrets.js';
import type { ConfigFiles } from '../config/config-files.js';
import type { SharedDatabase } from '../database/kysely.js';
import type { Logger } from '../logging/logger.js';
import { importConfigSecrets } from './import-config-secrets.js';
import type { KeyringEnv } from './load-keyring.js';
import { openVault } from './open-vault.js';
import type { SecretVault } from './secret-vault.js';

/**
 * The vault at start-up, once the migrations ran: keys loaded (and checked against what is stored), the secrets of
 * platforms.json and notifications.json imported, and webhook secrets stored in clear by an earlier version sealed.
 */
export async function startVault(db: SharedDatabase, env: KeyringEnv, files: Pick<ConfigFiles, 'platforms' | 'notifications'>, logger: Logger): Promise<SecretVault> {
  const vault = await openVault(db, env, logger);
  await importConfigSecrets(vault, files, logger);
  const webhooks = await sealPlaintextWebhookSecrets(db, vault.keyring);
  if (webhooks.resealed > 0) logger.info({ webhooks: webhooks.resealed }, 'webhook secrets stored in clear are now encrypted');
  return vault;
}
