import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConfigError, type Env } from '../config/env.js';
import type { Logger } from '../logging/logger.js';
import { generateEncryptionKeyText, parseEncryptionKey, type EncryptionKey } from './encryption-key.js';
import { Keyring } from './keyring.js';

export const generatedKeyFileName = 'encryption.key';

export type KeySource = 'environment' | 'key_file' | 'data_dir' | 'generated';

export type KeyringEnv = Pick<Env, 'COMM_ENCRYPTION_KEY' | 'COMM_ENCRYPTION_KEY_FILE' | 'COMM_ENCRYPTION_PREVIOUS_KEYS' | 'COMM_DATA_DIR'>;

/**
 * The vault's keys. The current one is COMM_ENCRYPTION_KEY, else the file COMM_ENCRYPTION_KEY_FILE names, else
 * COMM_DATA_DIR/encryption.key — generated on first start (mode 0600) so that the service runs with no setup.
 * COMM_ENCRYPTION_PREVIOUS_KEYS are loaded for reading only, during a rotation. A data-dir key that a configured key
 * has replaced is loaded for reading too: moving from the generated key to a managed one is then one keys:rotate.
 */
export async function loadKeyring(env: KeyringEnv, logger: Logger, options: { generate?: boolean } = {}): Promise<{ keyring: Keyring; source: KeySource }> {
  if (env.COMM_ENCRYPTION_KEY && env.COMM_ENCRYPTION_KEY_FILE) {
    throw new ConfigError('Set COMM_ENCRYPTION_KEY or COMM_ENCRYPTION_KEY_FILE, not both: which one encrypts would be a guess');
  }
  const dataDirFile = join(env.COMM_DATA_DIR, generatedKeyFileName);
  const { key: current, source } = await currentKey(env, dataDirFile, logger, options.generate ?? true);
  const previous = (env.COMM_ENCRYPTION_PREVIOUS_KEYS ?? '')
    .split(',')
    .map((text) => text.trim())
    .filter(Boolean)
    .map((text, index) => parseEncryptionKey(text, `COMM_ENCRYPTION_PREVIOUS_KEYS entry ${index + 1}`));
  if (source === 'environment' || source === 'key_file') {
    const replaced = await readKeyFile(dataDirFile, logger);
    if (replaced) previous.push(replaced);
  }
  const keys = [current, ...previous.filter((key, index) => key.id !== current.id && previous.findIndex((k) => k.id === key.id) === index)];
  logger.info({ current: current.id, previous: keys.slice(1).map((key) => key.id), source }, 'token vault keys loaded');
  return { keyring: new Keyring(keys), source };
}

async function currentKey(env: KeyringEnv, dataDirFile: string, logger: Logger, generate: boolean): Promise<{ key: EncryptionKey; source: KeySource }> {
  if (env.COMM_ENCRYPTION_KEY) return { key: parseEncryptionKey(env.COMM_ENCRYPTION_KEY, 'COMM_ENCRYPTION_KEY'), source: 'environment' };
  if (env.COMM_ENCRYPTION_KEY_FILE) {
    const key = await readKeyFile(env.COMM_ENCRYPTION_KEY_FILE, logger);
    if (!key) throw new ConfigError(`COMM_ENCRYPTION_KEY_FILE: ${env.COMM_ENCRYPTION_KEY_FILE} does not exist`);
    return { key, source: 'key_file' };
  }
  const stored = await readKeyFile(dataDirFile, logger);
  if (stored) return { key: stored, source: 'data_dir' };
  if (!generate) throw new ConfigError(`No encryption key: set COMM_ENCRYPTION_KEY or COMM_ENCRYPTION_KEY_FILE (${dataDirFile} does not exist either)`);
  return { key: await generateKeyFile(dataDirFile, logger), source: 'generated' };
}

async function generateKeyFile(file: string, logger: Logger): Promise<EncryptionKey> {
  await mkdir(dirname(file), { recursive: true });
  try {
    // 'wx': two processes starting together on one data dir must not each write a key; the loser reads the winner's.
    await writeFile(file, `${generateEncryptionKeyText()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return (await readKeyFile(file, logger))!;
  }
  logger.warn(
    { file },
    'generated the token vault encryption key: back this file up now, the stored tokens cannot be read without it ' +
      '(or manage the key yourself with COMM_ENCRYPTION_KEY / COMM_ENCRYPTION_KEY_FILE)',
  );
  return (await readKeyFile(file, logger))!;
}

/** The key a file holds, or null when there is no such file. */
async function readKeyFile(file: string, logger: Logger): Promise<EncryptionKey | null> {
  let content: Buffer;
  try {
    content = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError(`Cannot read the encryption key file ${file}: ${(error as Error).message}`);
  }
  if (process.platform !== 'win32' && ((await stat(file)).mode & 0o077) !== 0) {
    logger.warn({ file }, 'the encryption key file can be read by other users: chmod 600 it');
  }
  try {
    return parseEncryptionKey(content, file);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}
