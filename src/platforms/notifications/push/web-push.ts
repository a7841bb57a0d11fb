import webPush from 'web-push';
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
import { brief, createHttpClient, header, parseConfig, transportError, type ProviderFactoryOptions } from '../http-provider.js';

/**
 * Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291). The `web-push` package builds
 * the request (encrypted body, `Authorization: vapid t=…, k=…`, TTL, Urgency); axios sends it, so that timeouts and
 * answers are handled like every other connector. The recipient is the browser's PushSubscription as JSON
 * ({endpoint, keys: {p256dh, auth}}); the push service's URL is the subscription's endpoint.
 *
 * A subscription comes from a browser, i.e. from outside: its endpoint must be https (no plain-http calls to internal
 * hosts on a visitor's say-so) unless the factory is told otherwise (test doubles).
 */

export const webPushConfigSchema = z.looseObject({
  provider: z.literal('webpush'),
  vapid_public_key: z.string().min(1),
  vapid_private_key: z.string().min(1),
  /** mailto: or https: contact for the push services. */
  subject: z.string().regex(/^(mailto:|https:\/\/)/, 'must be a mailto: or https: URL'),
  /** How long a push service keeps an undelivered message; default one day. */
  ttl_seconds: z.number().int().min(0).max(2_419_200).optional(),
  urgency: z.enum(['very-low', 'low', 'normal', 'high']).optional(),
});

export type WebPushConfig = z.input<typeof webPushConfigSchema>;

export interface WebPushProviderOptions extends ProviderFactoryOptions {
  /** Accept http:// subscription endpoints (test doubles only). */
  allowInsecureEndpoints?: boolean;
}

const subscriptionSchema = z.object({
  endpoint: z.url({ protocol: /^https?$/ }),
  keys: z.object({ p256dh: z.string().min(1), auth: z.string().min(1) }),
});

export type WebPushSubscription = z.infer<typeof subscriptionSchema>;

export function createWebPushProvider(config: WebPushConfig, options: WebPushProviderOptions = {}): NotificationProvider {
  const cfg = parseConfig('webpush', webPushConfigSchema, config);
  const vapidDetails = { subject: cfg.subject, publicKey: cfg.vapid_public_key, privateKey: cfg.vapid_private_key };
  try {
    webPush.getVapidHeaders('https://push.example', vapidDetails.subject, vapidDetails.publicKey, vapidDetails.privateKey, 'aes128gcm');
  } catch {
    throw new Error('Invalid webpush configuration: vapid_public_key / vapid_private_key are not a P-256 VAPID key pair (URL-safe base64)');
  }
  const http = createHttpClient(options.timeoutMs);

  return {
    name: 'webpush',
    channel: 'push',

    async send(message: OutgoingMessage): Promise<SendResult> {
      if (!message.push) throw new ProviderError('webpush', 'permanent', 'webpush: the message has no push content');
      const subscription = parseSubscription(message.recipient, options.allowInsecureEndpoints === true);
      const payload = JSON.stringify({ title: message.push.title, body: message.push.body, url: message.push.url, data: message.push.data });

      let request: webPush.RequestDetails;
      try {
        request = webPush.generateRequestDetails(subscription, payload, {
          vapidDetails,
          TTL: cfg.ttl_seconds ?? 86_400,
          urgency: cfg.urgency ?? 'normal',
          contentEncoding: 'aes128gcm',
        });
      } catch {
        // Typically a p256dh that is not a P-256 point or an auth secret of the wrong size.
        throw new ProviderError('webpush', 'permanent', 'webpush: the subscription keys cannot be used to encrypt the payload');
      }

      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) if (value !== undefined && value !== null) headers[name] = String(value);
      let response;
      try {
        response = await http.post(request.endpoint, request.body ?? Buffer.alloc(0), { headers, responseType: 'text' });
      } catch (error) {
        throw transportError('webpush', error, options.timeoutMs);
      }
      if (response.status >= 200 && response.status < 300) {
        const location = header(response.headers, 'location');
        return { provider: 'webpush', providerMessageId: location || `webpush:${message.notificationId}` };
      }
      throw webPushError(response.status, response.data, header(response.headers, 'retry-after'));
    },
  };
}

function parseSubscription(recipient: string, allowInsecure: boolean): WebPushSubscription {
  let json: unknown;
  try {
    json = JSON.parse(recipient);
  } catch {
    throw new ProviderError('webpush', 'permanent', 'webpush: the recipient is not a push subscription (not JSON)');
  }
  const result = subscriptionSchema.safeParse(json);
  if (!result.success) {
    const fields = [...new Set(result.error.issues.map((i) => i.path.map(String).join('.') || '(root)'))].join(', ');
    throw new ProviderError('webpush', 'permanent', `webpush: the recipient is not a push subscription (${fields})`);
  }
  if (!allowInsecure && !result.data.endpoint.startsWith('https://')) {
    throw new ProviderError('webpush', 'permanent', 'webpush: the subscription endpoint is not https');
  }
  return result.data;
}

function webPushError(status: number, data: unknown, retryAfter: string | undefined): ProviderError {
  let errorClass: ProviderErrorClass;
  let what: string;
  if (status === 404 || status === 410) {
    errorClass = 'suppressed';
    what = 'the subscription is gone (expired or unsubscribed): remove it';
  } else if (status === 413) {
    errorClass = 'permanent';
    what = 'payload too large';
  } else {
    errorClass = classifyHttpStatus(status);
    what = errorClass === 'auth' ? 'the push service refused the VAPID authorization' : '';
  }
  const details: ProviderError['details'] = { status };
  if (errorClass === 'rate_limited' || errorClass === 'transient') {
    const wait = retryAfterMs(retryAfter);
    if (wait !== undefined) details.retryAfterMs = wait;
  }
  const text = [what, brief(data, 200)].filter(Boolean).join(': ');
  return new ProviderError('webpush', errorClass, `webpush: ${status}${text ? ` ${text}` : ''}`, details);
}
