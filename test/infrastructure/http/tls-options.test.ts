import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/infrastructure/config/env.js';
import { loadHttpsOptions } from '../../../src/infrastructure/http/tls-options.js';
import { pgliteDatabase } from '../../support/databases.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

/** A self-signed certificate for 127.0.0.1 and localhost (node:crypto cannot make X.509 certificates). */
function makeCertificate(dir: string): { certFile: string; keyFile: string } {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', keyFile, '-out', certFile,
  ], { stdio: 'ignore' });
  return { certFile, keyFile };
}

describe('TLS settings', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'comm-tls-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serves plain HTTP when neither file is set', () => {
    expect(loadHttpsOptions({})).toBeNull();
  });

  it('reads both PEM files and asks for TLS 1.3', () => {
    const files = makeCertificate(dir);
    const options = loadHttpsOptions(files)!;
    expect(options.minVersion).toBe('TLSv1.3');
    expect(String(options.cert)).toContain('-----BEGIN CERTIFICATE-----');
  });

  it('refuses one file without the other, a file it cannot read, and a file that is not PEM', async () => {
    expect(() => loadHttpsOptions({ certFile: join(dir, 'cert.pem') })).toThrow(/TLS_CERT_FILE is set without TLS_KEY_FILE/);
    expect(() => loadHttpsOptions({ keyFile: join(dir, 'key.pem') })).toThrow(/TLS_KEY_FILE is set without TLS_CERT_FILE/);
    expect(() => loadHttpsOptions({ certFile: join(dir, 'missing.pem'), keyFile: join(dir, 'key.pem') })).toThrow(/TLS_CERT_FILE: cannot read .*missing\.pem \(ENOENT\)/);
    await writeFile(join(dir, 'garbage.pem'), 'not a certificate');
    expect(() => loadHttpsOptions({ certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'garbage.pem') })).toThrow(ConfigError);
  });
});

describe('HTTPS', () => {
  const database = pgliteDatabase();
  let dir: string;
  let ca: Buffer;
  let t: RunningApp;
  let port: number;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'comm-https-'));
    const { certFile, keyFile } = makeCertificate(dir);
    ca = await readFile(certFile);
    t = await startTestApp(database, { projector: false, worker: false, env: { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile } });
    port = Number(new URL(t.url).port);
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('listens on https://', () => {
    expect(t.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('serves a TLS 1.3 client, with the HTTPS-only security headers', async () => {
    const answer = await new Promise<{ status: number; protocol: string | null; headers: Record<string, unknown> }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/health/live', ca, minVersion: 'TLSv1.3' }, (response) => {
        response.resume();
        resolve({ status: response.statusCode!, protocol: (response.socket as TLSSocket).getProtocol(), headers: response.headers });
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer.status).toBe(200);
    expect(answer.protocol).toBe('TLSv1.3');
    expect(answer.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(answer.headers['content-security-policy']).toContain('upgrade-insecure-requests');
  });

  it('refuses a client that offers TLS 1.2 at most', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
      socket.once('secureConnect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    expect(outcome).not.toBe('connected');
    expect(outcome).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });
});
