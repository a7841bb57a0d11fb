import { describe, expect, it } from 'vitest';
import { ConfigError, loadEnv } from '../../../src/infrastructure/config/env.js';
import { freshKey } from '../../support/encryption-keys.js';

describe('token vault environment', () => {
  it('accepts keys as hex or base64, and a comma-separated list of previous ones', () => {
    const [current, old] = [freshKey(), freshKey()];
    const hex = Buffer.from(current.text, 'base64').toString('hex');
    expect(loadEnv({ COMM_ENCRYPTION_KEY: hex }).COMM_ENCRYPTION_KEY).toBe(hex);
    const env = loadEnv({ COMM_ENCRYPTION_KEY: current.text, COMM_ENCRYPTION_PREVIOUS_KEYS: `${old.text}, ${hex}`, COMM_ENCRYPTION_KEY_FILE: '/run/secrets/comm.key' });
    expect(env).toMatchObject({ COMM_ENCRYPTION_PREVIOUS_KEYS: `${old.text}, ${hex}`, COMM_ENCRYPTION_KEY_FILE: '/run/secrets/comm.key' });
    expect(loadEnv({}).COMM_ENCRYPTION_KEY).toBeUndefined();
  });

  it('refuses a malformed key naming the variable, without echoing it', () => {
    const bad = 'not-a-key-but-perhaps-a-password';
    for (const values of [{ COMM_ENCRYPTION_KEY: bad }, { COMM_ENCRYPTION_PREVIOUS_KEYS: `${freshKey().text},${bad}` }]) {
      expect(() => loadEnv(values)).toThrow(ConfigError);
      try {
        loadEnv(values);
      } catch (error) {
        expect((error as Error).message).toContain(Object.keys(values)[0]);
        expect((error as Error).message).not.toContain(bad);
      }
    }
  });
});
