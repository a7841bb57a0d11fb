import type { ConfigFiles } from '../config/config-files.js';

/** A secret found in a configuration file, with the vault name it goes under. */
export interface ConfigSecret {
  /** The file's path to it: platforms/facebook/access_token, notifications/email/secondary/api_key. */
  name: string;
  value: string;
  file: 'platforms.json' | 'notifications.json';
}

/**
 * Field names that hold credentials in platforms.json and notifications.json: access_token, access_token_secret,
 * refresh_token, api_key, api_secret, app_secret, client_secret, auth_token, callback_token, webhook_verify_token,
 * private_key, vapid_private_key, password, webhook_password, application_secret, consumer_key. Public halves
 * (vapid_public_key, webhook_verification_key, application_key, account_sid) do not match.
 */
const secretFieldName = /(^|_)(token|secret|password|private_key|api_key|consumer_key)$/;
const nameSegment = /^[A-Za-z0-9_.-]+$/;

export function isSecretFieldName(field: string): boolean {
  return secretFieldName.test(field);
}

export function platformSecretName(platform: string, field: string): string {
  return `platforms/${platform}/${field}`;
}

/** Every non-empty secret field of the two files, nested entries (secondary providers) included. */
export function configSecrets(files: Pick<ConfigFiles, 'platforms' | 'notifications'>): ConfigSecret[] {
  return [...collect(files.platforms, ['platforms'], 'platforms.json'), ...collect(files.notifications, ['notifications'], 'notifications.json')];
}

function collect(value: object, path: string[], file: ConfigSecret['file']): ConfigSecret[] {
  const found: ConfigSecret[] = [];
  for (const [key, field] of Object.entries(value)) {
    // A key that cannot be part of a vault name is not one of the files' fields: vendors' extra fields are snake_case.
    if (!nameSegment.test(key)) continue;
    if (typeof field === 'string' && field !== '' && isSecretFieldName(key)) found.push({ name: [...path, key].join('/'), value: field, file });
    else if (field && typeof field === 'object' && !Array.isArray(field)) found.push(...collect(field, [...path, key], file));
  }
  return found;
}
