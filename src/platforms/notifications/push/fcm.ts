import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import {
  ProviderError,
  classifyHttpStatus,
  retryAfterMs,
  type NotificationProvider,
  type OutgoingMessage,
  type ProviderErrorClass,
  type SendResult,
} from '../provider.js';
import { brief, createHttpClient, header, parseConfig, transportError, trimBaseUrl, type ProviderFactoryOptions } from '../http-provider.js';

/**
 * Firebase Cloud Messaging HTTP v1: POST /v1/projects/{project}/messages:send with an OAuth2 access token.
 *
 * The token comes from the service account: a JWT (RS256, signed here with node:crypto) with the firebase.messaging
 * scope, exchanged at the token URI (grant_type urn:ietf:params:oauth:grant-type:jwt-bearer). It is cached until a
 * minute before it expires; concurrent sends share one exchange. A 401 UNAUTHENTICATED from FCM drops the cached token
 * and the send is tried once more with a fresh one (a revoked or early-expired token is not a configuration error); a
 * second one is.
 *
 * Errors follow FCM's ErrorCode (the google.firebase.fcm.v1.FcmError detail when present, else the google.rpc status):
 * UNREGISTERED / NOT_FOUND → suppressed (drop the token); INVALID_ARGUMENT, SENDER_ID_MISMATCH → permanent;
 * QUOTA_EXCEEDED / RESOURCE_EXHAUSTED / 429 → rate_limited; UNAUTHENTICATED, THIRD_PARTY_AUTH_ERROR, PERMISSION_DENIED →
 * auth; UNAVAILABLE / INTERNAL / 5xx → transient.
 */

const httpUrl = z.url({ protocol: /^https?$/ });

export const fcmConfigSchema = z.looseObject({
  provider: z.literal('fcm'),
  project_id: z.string().min(1),
  client_email: z.string().min(1),
  private_key: z.string().min(1),
  token_uri: httpUrl.optional(),
  base_url: httpUrl.optional(),
});

export type FcmConfig = z.input<typeof fcmConfigSchema>;

export type FcmProviderOptions = ProviderFactoryOptions;

export const fcmDefaultTokenUri = 'https://oauth2.googleapis.com/token';
export const fcmDefaultBaseUrl = 'https://fcm.googleapis.com';
export const fcmScope = 'https://www.googleapis.com/auth/firebase.messaging';
const jwtBearerGrant = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Refresh this long before the token expires. */
const refreshMarginMs = 60_000;

const codeClasses: Record<string, ProviderErrorClass> = {
  UNREGISTERED: 'suppressed',
  NOT_FOUND: 'suppressed',
  INVALID_ARGUMENT: 'permanent',
  SENDER_ID_MISMATCH: 'permanent',
  QUOTA_EXCEEDED: 'rate_limited',
  RESOURCE_EXHAUSTED: 'rate_limited',
  UNAUTHENTICATED: 'auth',
  THIRD_PARTY_AUTH_ERROR: 'auth',
  PERMISSION_DENIED: 'auth',
  UNAVAILABLE: 'transient',
  INTERNAL: 'transient',
};

interface GoogleRpcError {
  error?: { code?: number; message?: string; status?: string; details?: Array<{ '@type'?: string; errorCode?: string }> };
}

interface TokenAnswer {
  access_token?: string;
  expires_in?: number;
  token_type?: string;
  error?: string;
  error_description?: string;
}

export function createFcmProvider(config: FcmConfig, options: FcmProviderOptions = {}): NotificationProvider {
  const cfg = parseConfig('fcm', fcmConfigSchema, config);
  const now = Date.now;
  const tokenUri = cfg.token_uri ?? fcmDefaultTokenUri;
  const sendUrl = `${trimBaseUrl(cfg.base_url ?? fcmDefaultBaseUrl)}/v1/projects/${encodeURIComponent(cfg.project_id)}/messages:send`;
  let key: KeyObject;
  try {
    // A key pasted through an environment variable often arrives with literal "\n".
    key = createPrivateKey(cfg.private_key.includes('\\n') ? cfg.private_key.replace(/\\n/g, '\n') : cfg.private_key);
  } catch {
    throw new Error('Invalid fcm configuration: private_key is not a PEM private key');
  }
  if (key.asymmetricKeyType !== 'rsa') throw new Error('Invalid fcm configuration: private_key is not an RSA key');
  const http = createHttpClient(options.timeoutMs);

  let cached: { accessToken: string; expiresAt: number } | undefined;
  let exchange: Promise<string> | undefined;

  async function accessToken(): Promise<string> {
    if (cached && now() < cached.expiresAt - refreshMarginMs) return cached.accessToken;
    exchange ??= fetchToken().finally(() => {
      exchange = undefined;
    });
    return exchange;
  }

  async function fetchToken(): Promise<string> {
    const issuedAt = Math.floor(now() / 1000);
    const assertion = signJwt(
      { alg: 'RS256', typ: 'JWT' },
      { iss: cfg.client_email, scope: fcmScope, aud: tokenUri, iat: issuedAt, exp: issuedAt + 3600 },
      key,
    );
    let response;
    try {
      response = await http.post(tokenUri, new URLSearchParams({ grant_type: jwtBearerGrant, assertion }).toString(), {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      });
    } catch (error) {
      throw transportError('fcm', error, options.timeoutMs);
    }
    const body: TokenAnswer = response.data && typeof response.data === 'object' ? (response.data as TokenAnswer) : {};
    if (response.status === 200 && typeof body.access_token === 'string' && body.access_token) {
      const lifetimeMs = (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600) * 1000;
      cached = { accessToken: body.access_token, expiresAt: now() + lifetimeMs };
      return body.access_token;
    }
    // invalid_grant (bad signature, unknown or disabled key, clock skew), invalid_client, unauthorized_client → auth.
    let errorClass: ProviderErrorClass = classifyHttpStatus(response.status);
    if (response.status === 200) errorClass = 'transient';
    else if (response.status === 400 && /^(invalid_grant|invalid_client|unauthorized_client)$/.test(body.error ?? '')) errorClass = 'auth';
    const details: ProviderError['details'] = { status: response.status };
    if (body.error) details.providerCode = body.error;
    if (errorClass === 'rate_limited' || errorClass === 'transient') {
      const wait = retryAfterMs(header(response.headers, 'retry-after'));
      if (wait !== undefined) details.retryAfterMs = wait;
    }
    const text = brief([body.error, body.error_description].filter(Boolean).join(': '));
    throw new ProviderError('fcm', errorClass, `fcm: token exchange failed with ${response.status}${text ? `: ${text}` : ''}`, details);
  }

  return {
    name: 'fcm',
    channel: 'push',

    async send(message: OutgoingMessage): Promise<SendResult> {
      if (!message.push) throw new ProviderError('fcm', 'permanent', 'fcm: the message has no push content');
      if (!message.recipient) throw new ProviderError('fcm', 'permanent', 'fcm: the message has no registration token');
      const data: Record<string, string> = { ...(message.push.data ?? {}) };
      if (message.push.url && data.url === undefined) data.url = message.push.url;
      const fcmMessage: Record<string, unknown> = {
        token: message.recipient,
        notification: { title: message.push.title, body: message.push.body },
      };
      if (Object.keys(data).length > 0) fcmMessage.data = data;
      // Web targets open the link on click; FCM only accepts https links there.
      if (message.push.url?.startsWith('https://')) fcmMessage.webpush = { fcm_options: { link: message.push.url } };
      const payload = JSON.stringify({ message: fcmMessage });

      for (let attempt = 1; ; attempt++) {
        const token = await accessToken();
        let response;
        try {
          response = await http.post(sendUrl, payload, {
            headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json; charset=utf-8', Accept: 'application/json' },
          });
        } catch (error) {
          throw transportError('fcm', error, options.timeoutMs);
        }
        if (response.status >= 200 && response.status < 300) {
          const name = (response.data as { name?: unknown } | undefined)?.name;
          if (typeof name !== 'string' || !name) {
            throw new ProviderError('fcm', 'permanent', `fcm: ${response.status} answer without a message name`, { status: response.status });
          }
          return { provider: 'fcm', providerMessageId: name };
        }
        const error = fcmError(response.status, response.data, header(response.headers, 'retry-after'));
        // Our token was refused (not THIRD_PARTY_AUTH_ERROR, which is about APNs / web push credentials).
        if ((response.status === 401 || error.details.providerCode === 'UNAUTHENTICATED') && error.details.providerCode !== 'THIRD_PARTY_AUTH_ERROR') {
          if (cached?.accessToken === token) cached = undefined;
          if (attempt === 1) continue;
        }
        throw error;
      }
    },

    async check(): Promise<void> {
      await accessToken();
    },
  };
}

function fcmError(status: number, data: unknown, retryAfter: string | undefined): ProviderError {
  const rpc = data && typeof data === 'object' ? (data as GoogleRpcError).error : undefined;
  const fcmCode = rpc?.details?.find((d) => typeof d?.['@type'] === 'string' && d['@type'].endsWith('google.firebase.fcm.v1.FcmError'))?.errorCode;
  const code = fcmCode ?? rpc?.status;
  const errorClass = (code ? codeClasses[code] : undefined) ?? classifyHttpStatus(status);
  const details: ProviderError['details'] = { status };
  if (code) details.providerCode = code;
  if (errorClass === 'rate_limited' || errorClass === 'transient') {
    const wait = retryAfterMs(retryAfter);
    if (wait !== undefined) details.retryAfterMs = wait;
  }
  const text = brief(rpc?.message ?? (typeof data === 'string' ? data : ''));
  return new ProviderError('fcm', errorClass, `fcm: ${status}${code ? ` (${code})` : ''}${text ? `: ${text}` : ''}`, details);
}

function signJwt(headerJson: object, claims: object, key: KeyObject): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${encode(headerJson)}.${encode(claims)}`;
  const signature = sign('RSA-SHA256', Buffer.from(signingInput), key).toString('base64url');
  return `${signingInput}.${signature}`;
}
