import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFiles } from '../../../src/infrastructure/config/config-files.js';
import { ConfigError, loadEnv } from '../../../src/infrastructure/config/env.js';

describe('environment', () => {
  it('has defaults for everything', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({ PORT: 3000, COMM_DATA_DIR: './data', COMM_CONFIG_DIR: './config', LOG_LEVEL: 'info' });
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('names each bad variable', () => {
    expect(() => loadEnv({ PORT: 'eighty', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud', COMM_ADMIN_API_KEY: 'short' })).toThrow(ConfigError);
    try {
      loadEnv({ PORT: 'eighty', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud', COMM_ADMIN_API_KEY: 'short' });
    } catch (error) {
      const message = (error as Error).message;
      for (const name of ['PORT', 'DATABASE_URL', 'LOG_LEVEL', 'COMM_ADMIN_API_KEY']) expect(message).toContain(name);
    }
  });

  it('treats empty values as unset', () => {
    expect(loadEnv({ DATABASE_URL: '', PORT: '' }).PORT).toBe(3000);
  });
});

describe('configuration files', () => {
  const dir = async () => mkdtemp(join(tmpdir(), 'comm-config-'));

  it('loads the shipped config directory (spec templates)', async () => {
    const files = await loadConfigFiles('./config');
    expect(Object.keys(files.templates)).toEqual(expect.arrayContaining(['promotional_email', 'menu_update']));
    expect(files.platforms).toEqual({});
  });

  it('accepts the spec examples of platforms.json and notifications.json', async () => {
    const d = await dir();
    await writeFile(join(d, 'platforms.json'), await import('node:fs/promises').then((fs) => fs.readFile('config/platforms.example.json', 'utf8')));
    await writeFile(join(d, 'notifications.json'), await import('node:fs/promises').then((fs) => fs.readFile('config/notifications.example.json', 'utf8')));
    const files = await loadConfigFiles(d);
    expect(files.platforms.facebook?.page_id).toBe('YOUR_FB_PAGE_ID');
    expect(files.notifications.email?.provider).toBe('sendgrid');
  });

  it('names the file and the field that is wrong', async () => {
    const d = await dir();
    await writeFile(join(d, 'platforms.json'), JSON.stringify({ facebook: { page_id: 'p', api_version: '18', base_url: 'ftp://x' }, myspace: {} }));
    await expect(loadConfigFiles(d)).rejects.toThrow(/platforms\.json[\s\S]*facebook\.api_version[\s\S]*facebook\.base_url/);
    await expect(loadConfigFiles(d)).rejects.toThrow(/myspace/);
  });

  it('refuses a file that is not JSON, and a template with no body', async () => {
    const d = await dir();
    await writeFile(join(d, 'notifications.json'), '{ nope');
    await expect(loadConfigFiles(d)).rejects.toThrow(/notifications\.json is not valid JSON/);
    const e = await dir();
    await mkdir(join(e, 'templates'));
    await writeFile(join(e, 'templates', 'x.json'), JSON.stringify({ empty: { subject: 'hi' } }));
    await expect(loadConfigFiles(e)).rejects.toThrow(/x\.json[\s\S]*empty/);
  });
});
