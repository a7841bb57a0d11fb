import { readFileSync } from 'node:fs';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import { ConfigError } from '../config/env.js';

export type HttpsOptions = Pick<TlsOptions, 'minVersion'> & Required<Pick<SecureContextOptions, 'cert' | 'key'>>;

/**
 * HTTPS settings from TLS_CERT_FILE and TLS_KEY_FILE, or null to serve plain HTTP (behind a proxy that terminates TLS).
 * TLS 1.3 only: every client this service has (browsers, the restaurant's other modules, providers' webhooks) speaks it,
 * and it leaves no weak cipher suite to configure.
 */
export function loadHttpsOptions(files: { certFile?: string; keyFile?: string }): HttpsOptions | null {
  const { certFile, keyFile } = files;
  if (!certFile && !keyFile) return null;
  if (!certFile || !keyFile) {
    throw new ConfigError(`${certFile ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE'} is set without ${certFile ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE'}: set both to serve HTTPS, or neither`);
  }
  return { cert: readPem(certFile, 'TLS_CERT_FILE'), key: readPem(keyFile, 'TLS_KEY_FILE'), minVersion: 'TLSv1.3' };
}

function readPem(file: string, variable: string): Buffer {
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch (error) {
    throw new ConfigError(`${variable}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (!content.toString('latin1').includes('-----BEGIN ')) throw new ConfigError(`${variable}: ${file} is not a PEM file`);
  return content;
}
