import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/infrastructure/config/env.js';
import { generatedKeyFileName, loadKeyring, type KeyringEnv } from '../../../src/infrastructure/secrets/load-keyring.js';
import { capturingLogger } from '../../support/captured-logs.js';
import { freshKey } from '../../support/encryption-keys.js';

describe('loading the vault keys', () => {
  let dataDir: string;
  let logs: ReturnType<typeof capturingLogger>;
  const logger = () => logs.logger;
  const env = (values: Partial<KeyringEnv> = {}): KeyringEnv => ({ COMM_DATA_DIR: dataDir, ...values });

  beforeEach(async () => {
    dataDir = join(await mkdtemp(join(tmpdir(), 'comm-keys-')), 'data');
    logs = capturingLogger('info');
  });
  afterEach(async () => {
    await rm(join(dataDir, '..'), { recursive: true, force: true });
  });

  it('generates a key once into the data dir (mode 0600), warns to back it up, and reuses it', async () => {
    const first = await loadKeyring(env(), logger());
    const file = join(dataDir, generatedKeyFileName);
    expect(first.source).toBe('generated');
    if (process.platform !== 'win32') expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(logs.lines.some((line) => line.level === 40 && /back this file up/.test(String(line.msg)) && line.file === file)).toBe(true);
    const content = await readFile(file, 'utf8');

    logs = capturingLogger('info');
    const second = await loadKeyring(env(), logger());
    expect(second.source).toBe('data_dir');
    expect(second.keyring.currentKeyId).toBe(first.keyring.currentKeyId);
    expect(await readFile(file, 'utf8')).toBe(content);
    expect(logs.lines.some((line) => line.level === 40)).toBe(false);
  });

  it('gives two processes starting together on one data dir the same key', async () => {
    const [a, b] = await Promise.all([loadKeyring(env(), logger()), loadKeyring(env(), logger())]);
    expect(a.keyring.currentKeyId).toBe(b.keyring.currentKeyId);
  });

  it('takes COMM_ENCRYPTION_KEY, and keeps a data-dir key it replaced for reading', async () => {
    const generated = (await loadKeyring(env(), logger())).keyring.currentKeyId;
    const configured = freshKey();
    const { keyring, source } = await loadKeyring(env({ COMM_ENCRYPTION_KEY: configured.text }), logger());
    expect(source).toBe('environment');
    expect(keyring.currentKeyId).toBe(configured.key.id);
    expect(keyring.keyIds).toEqual([configured.key.id, generated]);
  });

  it('takes COMM_ENCRYPTION_KEY_FILE (text or raw bytes) and warns when others can read it', async () => {
    const configured = freshKey();
    const file = join(dataDir, '..', 'vault.key');
    await writeFile(file, `${configured.text}\n`, { mode: 0o644 });
    await chmod(file, 0o644);
    const { keyring, source } = await loadKeyring(env({ COMM_ENCRYPTION_KEY_FILE: file }), logger());
    expect(source).toBe('key_file');
    expect(keyring.currentKeyId).toBe(configured.key.id);
    if (process.platform !== 'win32') expect(logs.lines.some((line) => /chmod 600/.test(String(line.msg)))).toBe(true);
    await expect(loadKeyring(env({ COMM_ENCRYPTION_KEY_FILE: join(dataDir, 'missing.key') }), logger())).rejects.toThrow(/does not exist/);
    await writeFile(file, 'not a key');
    await expect(loadKeyring(env({ COMM_ENCRYPTION_KEY_FILE: file }), logger())).rejects.toThrow(ConfigError);
  });

  it('loads previous keys for reading only', async () => {
    const [current, old1, old2] = [freshKey(), freshKey(), freshKey()];
    const { keyring } = await loadKeyring(env({ COMM_ENCRYPTION_KEY: current.text, COMM_ENCRYPTION_PREVIOUS_KEYS: ` ${old1.text}, ${old2.text},${current.text}` }), logger());
    expect(keyring.keyIds).toEqual([current.key.id, old1.key.id, old2.key.id]);
    expect(logs.lines.find((line) => line.msg === 'token vault keys loaded')).toMatchObject({ current: current.key.id, previous: [old1.key.id, old2.key.id] });
    expect(JSON.stringify(logs.lines)).not.toContain(current.text);
  });

  it('refuses both COMM_ENCRYPTION_KEY and COMM_ENCRYPTION_KEY_FILE, and a missing key when told not to generate one', async () => {
    await expect(loadKeyring(env({ COMM_ENCRYPTION_KEY: freshKey().text, COMM_ENCRYPTION_KEY_FILE: '/tmp/x' }), logger())).rejects.toThrow(/not both/);
    await expect(loadKeyring(env(), logger(), { generate: false })).rejects.toThrow(/No encryption key/);
  });
});
