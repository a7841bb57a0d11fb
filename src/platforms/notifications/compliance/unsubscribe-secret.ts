import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MIN_UNSUBSCRIBE_SECRET_LENGTH } from './unsubscribe-token.js';

export const unsubscribeSecretFileName = 'unsubscribe-secret';

/**
 * The secret of the unsubscribe tokens: COMM_UNSUBSCRIBE_SECRET when set; otherwise one generated on first start and
 * kept in the data dir (mode 0600), as the admin key is. It must outlive every link already sent: changing it makes
 * them invalid.
 */
export async function ensureUnsubscribeSecret(options: { configured?: string; dataDir: string }): Promise<string> {
  if (options.configured) {
    if (options.configured.length < MIN_UNSUBSCRIBE_SECRET_LENGTH) {
      throw new RangeError(`COMM_UNSUBSCRIBE_SECRET must be at least ${MIN_UNSUBSCRIBE_SECRET_LENGTH} characters`);
    }
    return options.configured;
  }
  const file = join(options.dataDir, unsubscribeSecretFileName);
  const stored = await readFile(file, 'utf8').then((text) => text.trim(), () => '');
  if (stored.length >= MIN_UNSUBSCRIBE_SECRET_LENGTH) return stored;
  const secret = randomBytes(32).toString('base64url');
  await mkdir(options.dataDir, { recursive: true });
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
