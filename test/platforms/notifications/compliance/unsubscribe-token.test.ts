import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureUnsubscribeSecret } from '../../../../src/platforms/notifications/compliance/unsubscribe-secret.js';
import {
  MAX_UNSUBSCRIBE_RECIPIENT_BYTES,
  MAX_UNSUBSCRIBE_TOKEN_LENGTH,
  createUnsubscribeToken,
  listUnsubscribeHeaders,
  unsubscribeHeaderFactory,
  unsubscribeUrl,
  verifyUnsubscribeToken,
} from '../../../../src/platforms/notifications/compliance/unsubscribe-token.js';

const secret = 'a-test-secret-of-at-least-32-characters!';
const marie = { recipient: 'marie.dupont@example.fr', channel: 'email' } as const;

describe('unsubscribe tokens', () => {
  it('round trip: the token gives back the recipient and channel', () => {
    const token = createUnsubscribeToken(secret, marie);
    expect(verifyUnsubscribeToken(secret, token)).toEqual(marie);
    const sms = { recipient: '+33612345678', channel: 'sms' } as const;
    expect(verifyUnsubscribeToken(secret, createUnsubscribeToken(secret, sms))).toEqual(sms);
  });

  it('is opaque and URL-safe: no recipient, domain or channel readable, even after base64 decoding', () => {
    const token = createUnsubscribeToken(secret, marie);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(encodeURIComponent(token)).toBe(token);
    const decoded = Buffer.from(token, 'base64url').toString('latin1');
    for (const text of [token.toLowerCase(), decoded.toLowerCase()]) {
      for (const fragment of ['marie', 'dupont', 'example', 'email']) expect(text).not.toContain(fragment);
    }
  });

  it('gives a different token each time (random IV): tokens cannot be linked to each other', () => {
    const tokens = new Set(Array.from({ length: 20 }, () => createUnsubscribeToken(secret, marie)));
    expect(tokens.size).toBe(20);
    for (const token of tokens) expect(verifyUnsubscribeToken(secret, token)).toEqual(marie);
  });

  it('refuses a token with any single character changed', () => {
    const token = createUnsubscribeToken(secret, marie);
    for (let i = 0; i < token.length; i++) {
      const replacement = token[i] === 'A' ? 'B' : 'A';
      const tampered = token.slice(0, i) + replacement + token.slice(i + 1);
      expect(verifyUnsubscribeToken(secret, tampered), `position ${i}`).toBeNull();
    }
  });

  it('refuses truncated, extended, foreign and malformed tokens', () => {
    const token = createUnsubscribeToken(secret, marie);
    const other = 'another-secret-of-at-least-32-characters';
    expect(verifyUnsubscribeToken(secret, token.slice(0, -1))).toBeNull();
    expect(verifyUnsubscribeToken(secret, token.slice(0, 20))).toBeNull();
    expect(verifyUnsubscribeToken(secret, `${token}A`)).toBeNull();
    expect(verifyUnsubscribeToken(other, token)).toBeNull();
    expect(verifyUnsubscribeToken(secret, createUnsubscribeToken(other, marie))).toBeNull();
    for (const garbage of ['', 'x', 'not a token', `${token}=`, token.replace(/./, '+'), 'A'.repeat(300)]) {
      expect(verifyUnsubscribeToken(secret, garbage)).toBeNull();
    }
  });

  it('fits in a URL path parameter of the server, for any recipient up to the documented size', () => {
    const longest = `${'x'.repeat(MAX_UNSUBSCRIBE_RECIPIENT_BYTES - '@example.fr'.length)}@example.fr`;
    const token = createUnsubscribeToken(secret, { recipient: longest, channel: 'email' });
    expect(token.length).toBeLessThanOrEqual(MAX_UNSUBSCRIBE_TOKEN_LENGTH);
    expect(verifyUnsubscribeToken(secret, token)).toEqual({ recipient: longest, channel: 'email' });
    expect(() => createUnsubscribeToken(secret, { recipient: `y${longest}`, channel: 'email' })).toThrow(RangeError);
  });

  it('refuses a short secret and an invalid recipient', () => {
    expect(() => createUnsubscribeToken('short', marie)).toThrow(/at least 32/);
    expect(() => verifyUnsubscribeToken('short', 'x')).toThrow(/at least 32/);
    expect(() => createUnsubscribeToken(secret, { recipient: '0612345678', channel: 'sms' })).toThrow(/E\.164/);
  });
});

describe('listUnsubscribeHeaders (RFC 8058)', () => {
  it('gives the HTTPS one-click link and the List-Unsubscribe-Post header', () => {
    expect(listUnsubscribeHeaders('https://communication.levieuxmoulin.fr/', 'TOKEN_-1')).toEqual({
      'List-Unsubscribe': '<https://communication.levieuxmoulin.fr/api/communication/unsubscribe/TOKEN_-1>',
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    });
  });

  it('keeps a base path', () => {
    expect(unsubscribeUrl('https://levieuxmoulin.fr/comm', 'abc')).toBe('https://levieuxmoulin.fr/comm/api/communication/unsubscribe/abc');
  });

  it('wants HTTPS (plain http only on localhost) and a base64url token', () => {
    expect(() => listUnsubscribeHeaders('http://levieuxmoulin.fr', 'abc')).toThrow(/HTTPS/);
    expect(unsubscribeUrl('http://localhost:3000', 'abc')).toBe('http://localhost:3000/api/communication/unsubscribe/abc');
    expect(() => unsubscribeUrl('https://levieuxmoulin.fr', 'a/b')).toThrow(/base64url/);
  });
});

describe('unsubscribeHeaderFactory', () => {
  it('checks the configuration once, then makes headers with a fresh token per message', () => {
    expect(() => unsubscribeHeaderFactory('http://levieuxmoulin.fr', secret)).toThrow(/HTTPS/);
    expect(() => unsubscribeHeaderFactory('https://levieuxmoulin.fr', 'short')).toThrow(/at least 32/);
    const headersFor = unsubscribeHeaderFactory('https://levieuxmoulin.fr', secret);
    const headers = headersFor(marie);
    expect(headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    const token = /\/unsubscribe\/([A-Za-z0-9_-]+)>$/.exec(headers['List-Unsubscribe']!)![1]!;
    expect(verifyUnsubscribeToken(secret, token)).toEqual(marie);
    expect(headersFor({ recipient: `${'z'.repeat(120)}@example.fr`, channel: 'email' })).toEqual({});
  });
});

describe('ensureUnsubscribeSecret', () => {
  it('uses the configured secret, or generates one once and keeps it in the data dir (0600)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'unsub-'));
    try {
      expect(await ensureUnsubscribeSecret({ configured: secret, dataDir: dir })).toBe(secret);
      await expect(ensureUnsubscribeSecret({ configured: 'short', dataDir: dir })).rejects.toThrow(/at least 32/);
      const generated = await ensureUnsubscribeSecret({ dataDir: join(dir, 'data') });
      expect(generated.length).toBeGreaterThanOrEqual(32);
      expect(await ensureUnsubscribeSecret({ dataDir: join(dir, 'data') })).toBe(generated);
      expect((await readFile(join(dir, 'data', 'unsubscribe-secret'), 'utf8')).trim()).toBe(generated);
      expect((await stat(join(dir, 'data', 'unsubscribe-secret'))).mode & 0o777).toBe(0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
