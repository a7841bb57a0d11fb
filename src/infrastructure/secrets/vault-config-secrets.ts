import type { NotificationsConfig } from '../config/config-files.js';
import { isSecretFieldName } from './config-secrets.js';
import type { SecretVault } from './secret-vault.js';

/**
 * notifications.json as the providers use it: every secret field (api keys, auth tokens, the VAPID and FCM private
 * keys, inbound webhook passwords and tokens) read from the token vault, where the configuration import put it. So a
 * secret the vault holds wins over the file (a value rotated in the vault), and a secret removed from the file keeps
 * working from the vault — how secrets move out of the file. The entries themselves (provider, from_email...) still come
 * from the file: a vault secret whose entry the file no longer has is not used.
 */
export async function notificationsWithVaultSecrets(vault: Pick<SecretVault, 'get' | 'list'>, config: NotificationsConfig): Promise<NotificationsConfig> {
  const resolved = structuredClone(config) as Record<string, unknown>;
  for (const { name } of await vault.list()) {
    const [root, ...path] = name.split('/');
    if (root !== 'notifications' || path.length < 2) continue;
    const field = path[path.length - 1]!;
    if (!isSecretFieldName(field)) continue;
    const entry = path.slice(0, -1).reduce<unknown>((node, key) => (node && typeof node === 'object' && !Array.isArray(node) ? (node as Record<string, unknown>)[key] : undefined), resolved);
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) continue;
    const value = await vault.get(name);
    if (value !== null) (entry as Record<string, unknown>)[field] = value;
  }
  return resolved as NotificationsConfig;
}
