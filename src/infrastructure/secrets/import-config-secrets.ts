import type { ConfigFiles } from '../config/config-files.js';
import type { Logger } from '../logging/logger.js';
import { configSecrets } from './config-secrets.js';
import type { SecretVault } from './secret-vault.js';

export interface ImportOutcome {
  added: number;
  updated: number;
  unchanged: number;
  /** Names whose vault value was written by something else than the file (a token refresh): the vault's wins. */
  kept: string[];
}

/**
 * Puts the secrets of platforms.json and notifications.json in the vault, at every start. A value the file changed
 * replaces the one it imported before; a value something else stored since (metadata.source is not the file) is kept,
 * since it is the newer one, and named in a warning. A secret removed from a file stays in the vault: that is how
 * secrets move out of the files.
 */
export async function importConfigSecrets(vault: SecretVault, files: Pick<ConfigFiles, 'platforms' | 'notifications'>, logger: Logger): Promise<ImportOutcome> {
  const outcome: ImportOutcome = { added: 0, updated: 0, unchanged: 0, kept: [] };
  const sources = new Map((await vault.list()).map((summary) => [summary.name, summary.metadata.source]));
  for (const secret of configSecrets(files)) {
    const stored = sources.has(secret.name) ? await vault.get(secret.name) : null;
    if (stored === secret.value) {
      outcome.unchanged++;
    } else if (stored !== null && sources.get(secret.name) !== secret.file) {
      outcome.kept.push(secret.name);
    } else {
      await vault.put(secret.name, secret.value, { metadata: { source: secret.file } });
      if (sources.has(secret.name)) outcome.updated++;
      else outcome.added++;
    }
  }
  logger.info({ added: outcome.added, updated: outcome.updated, unchanged: outcome.unchanged, kept: outcome.kept.length }, 'configuration secrets imported into the token vault');
  if (outcome.kept.length > 0) {
    logger.warn({ secrets: outcome.kept }, "the vault holds newer values than the configuration files: the files' values are not used (delete the vault entries to use them)");
  }
  return outcome;
}
