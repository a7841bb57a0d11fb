import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logging/logger.js';
import { generateApiKey, type ApiKeyStore } from './api-keys.js';

export const adminKeyFileName = 'admin-api-key';

/**
 * The all-scopes key: COMM_ADMIN_API_KEY when set; otherwise one generated on first start, kept in the data dir
 * (mode 0600) and printed that one time, so a newcomer can call the API without configuring anything.
 */
export async function ensureAdminKey(
  store: ApiKeyStore,
  options: { configuredKey?: string; dataDir: string; logger: Logger; print?: (line: string) => void },
): Promise<{ source: 'environment' | 'data_dir' | 'generated'; file?: string }> {
  if (options.configuredKey) {
    await store.upsert('admin', options.configuredKey, 'admin (COMM_ADMIN_API_KEY)', ['admin']);
    return { source: 'environment' };
  }
  const file = join(options.dataDir, adminKeyFileName);
  let key = await readFile(file, 'utf8').then((text) => text.trim(), () => '');
  let source: 'data_dir' | 'generated' = 'data_dir';
  if (!key) {
    key = generateApiKey().key;
    await mkdir(options.dataDir, { recursive: true });
    await writeFile(file, `${key}\n`, { mode: 0o600 });
    source = 'generated';
    const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
    print(`\nAdmin API key (shown once, also saved in ${file}):\n\n  ${key}\n\nUse it as: Authorization: Bearer <key>\n`);
  }
  await store.upsert('admin', key, 'admin (generated)', ['admin']);
  options.logger.info({ file }, source === 'generated' ? 'admin API key generated' : 'admin API key loaded from data dir');
  return { source, file };
}
