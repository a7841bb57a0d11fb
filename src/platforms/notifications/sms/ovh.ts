import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  ProviderError,
  classifyHttpStatus,
  retryAfterMs,
  type NotificationProvider,
  type OutgoingMessage,
  type ProviderErrorClass,
  type ReportedPrice,
  type SendResult,
} from '../provider.js';
import { brief, createHttpClient, header, parseConfig, transportError, trimBaseUrl, type ProviderFactoryOptions } from '../http-provider.js';

/**
 * OVHcloud SMS: POST /1.0/sms/{serviceName}/jobs, JSON, signed requests.
 *
 * Every call carries X-Ovh-Application (application key), X-Ovh-Consumer (consumer key), X-Ovh-Timestamp (OVH's clock,
 * in seconds) and X-Ovh-Signature = "$1$" + hex SHA-1 of
 * `application_secret+consumer_key+METHOD+full URL+body+timestamp`. The clock is OVH's: we read GET /1.0/auth/time
 * (unsigned) once, keep the delta with our clock, and read it again when OVH refuses a signature or a timestamp (our
 * clock may have jumped) — then the refused call is retried once, which is safe: OVH rejected it before doing anything.
 *
 * STOP clause. By default (noStopClause=false) OVH appends its own STOP mention and treats the SMS as advertising,
 * which it only sends Monday–Saturday 08:00–20:00; noStopClause=true is, in OVH's words, for SMS that are not
 * advertising. French rules (CNIL) require a free opt-out in every marketing SMS. The rule here can never send
 * marketing without a STOP mention:
 *   - a transactional message (the template says so) → noStopClause=true: no STOP, no daytime hold;
 *   - the text already contains the word STOP (the caller wrote its opt-out) → noStopClause=true, so the recipient
 *     does not get two STOP mentions;
 *   - otherwise (marketing, or kind unknown) → noStopClause=false, OVH adds its STOP mention (and holds the SMS
 *     outside its advertising hours).
 * Consequences: a caller that writes its own STOP must make it work (an alphanumeric sender cannot receive replies, so
 * name a number or a link that does) and must apply the quiet hours itself (the worker does, for marketing SMS).
 * `transactional_only: true` in the entry (an SMS account used only for non-advertising messages) always sends
 * noStopClause=true.
 */

const endpoints: Record<string, string> = {
  'ovh-eu': 'https://eu.api.ovh.com',
  'ovh-ca': 'https://ca.api.ovh.com',
  'ovh-us': 'https://api.us.ovhcloud.com',
};

export const ovhDefaultBaseUrl = endpoints['ovh-eu'] as string;

const httpUrl = z.url({ protocol: /^https?$/ });

export const ovhConfigSchema = z
  .looseObject({
    provider: z.literal('ovh'),
    application_key: z.string().min(1),
    application_secret: z.string().min(1),
    consumer_key: z.string().min(1),
    service_name: z.string().min(1),
    /** The validated OVH sender (alphanumeric or number); `from_number` is accepted for it (notifications.json's common field). */
    sender: z.string().min(1).optional(),
    from_number: z.string().min(1).optional(),
    /** 'ovh-eu' | 'ovh-ca' | 'ovh-us' or an API URL; `base_url` wins. */
    endpoint: z.union([z.enum(['ovh-eu', 'ovh-ca', 'ovh-us']), httpUrl]).optional(),
    base_url: httpUrl.optional(),
    /** This SMS account only sends non-advertising SMS: always noStopClause=true. */
    transactional_only: z.boolean().optional(),
  })
  .refine((c) => c.sender ?? c.from_number, { message: 'sender (or from_number) is required', path: ['sender'] });

export type OvhConfig = z.input<typeof ovhConfigSchema>;

export interface OvhProviderOptions extends ProviderFactoryOptions {
  /** How long the OVH clock delta is trusted before /auth/time is read again; default 1 hour. */
  clockTtlMs?: number;
}

/** Error codes OVH uses for refused credentials (the python-ovh client maps the same ones). */
const authCodes = new Set(['INVALID_SIGNATURE', 'INVALID_KEY', 'INVALID_CREDENTIAL', 'NOT_CREDENTIAL', 'NOT_GRANTED_CALL', 'FORBIDDEN', 'QUERY_TIME_OUT']);
/**
 * Refusals our clock can cause: re-read /auth/time and try once more. INVALID_SIGNATURE is documented by OVH's clients;
 * the code for a stale timestamp is not, hence the message match too.
 */
const clockCodes = new Set(['INVALID_SIGNATURE', 'QUERY_TIME_OUT']);
const clockMessage = /invalid signature|out of time|timestamp/i;

interface OvhErrorBody {
  errorCode?: string;
  httpCode?: string;
  message?: string;
  class?: string;
}

interface OvhJobResult {
  ids?: Array<number | string>;
  invalidReceivers?: string[];
  validReceivers?: string[];
  totalCreditsRemoved?: number;
}

export function signOvhRequest(parts: { applicationSecret: string; consumerKey: string; method: string; url: string; body: string; timestamp: number | string }): string {
  const clear = [parts.applicationSecret, parts.consumerKey, parts.method.toUpperCase(), parts.url, parts.body, String(parts.timestamp)].join('+');
  return `$1$${createHash('sha1').update(clear, 'utf8').digest('hex')}`;
}

/** True when the SMS text carries its own STOP opt-out mention. */
export function hasStopMention(text: string): boolean {
  return /\bSTOP\b/.test(text);
}

export function createOvhProvider(config: OvhConfig, options: OvhProviderOptions = {}): NotificationProvider {
  const cfg = parseConfig('ovh', ovhConfigSchema, config);
  const base = trimBaseUrl(cfg.base_url ?? (cfg.endpoint ? (endpoints[cfg.endpoint] ?? cfg.endpoint) : ovhDefaultBaseUrl)).replace(/\/1\.0$/, '');
  const apiUrl = `${base}/1.0`;
  const sender = (cfg.sender ?? cfg.from_number) as string;
  const http = createHttpClient(options.timeoutMs);
  const clockTtlMs = options.clockTtlMs ?? 3_600_000;
  const servicePath = `/sms/${encodeURIComponent(cfg.service_name)}`;

  let clock: { deltaSeconds: number; readAt: number } | undefined;
  let clockInFlight: Promise<number> | undefined;

  async function serverDelta(): Promise<number> {
    if (clock && Date.now() - clock.readAt < clockTtlMs) return clock.deltaSeconds;
    clockInFlight ??= readServerTime().finally(() => {
      clockInFlight = undefined;
    });
    return clockInFlight;
  }

  async function readServerTime(): Promise<number> {
    let response;
    try {
      response = await http.get(`${apiUrl}/auth/time`, { headers: { Accept: 'application/json' } });
    } catch (error) {
      throw transportError('ovh', error, options.timeoutMs);
    }
    const serverTime = Number(response.data);
    if (response.status !== 200 || !Number.isInteger(serverTime)) {
      if (response.status === 200) throw new ProviderError('ovh', 'transient', 'ovh: /auth/time did not answer a timestamp', { status: 200 });
      throw ovhError(response.status, response.data, header(response.headers, 'retry-after'));
    }
    const deltaSeconds = serverTime - Math.floor(Date.now() / 1000);
    clock = { deltaSeconds, readAt: Date.now() };
    return deltaSeconds;
  }

  async function signedCall<T>(method: 'GET' | 'POST', path: string, payload?: unknown): Promise<{ status: number; data: T }> {
    const url = `${apiUrl}${path}`;
    const body = payload === undefined ? '' : JSON.stringify(payload);
    for (let attempt = 1; ; attempt++) {
      const timestamp = Math.floor(Date.now() / 1000) + (await serverDelta());
      const headers: Record<string, string> = {
        Accept: 'application/json',
        'X-Ovh-Application': cfg.application_key,
        'X-Ovh-Consumer': cfg.consumer_key,
        'X-Ovh-Timestamp': String(timestamp),
        'X-Ovh-Signature': signOvhRequest({ applicationSecret: cfg.application_secret, consumerKey: cfg.consumer_key, method, url, body, timestamp }),
      };
      if (body) headers['Content-Type'] = 'application/json;charset=utf-8';
      let response;
      try {
        // The body is sent as the exact string that was signed.
        response = await http.request({ method, url, data: body || undefined, headers, transformRequest: [(data: unknown) => data] });
      } catch (error) {
        throw transportError('ovh', error, options.timeoutMs);
      }
      if (response.status >= 200 && response.status < 300) return { status: response.status, data: response.data as T };
      const error = ovhError(response.status, response.data, header(response.headers, 'retry-after'));
      if (attempt === 1 && error.details.providerCode !== undefined && clockCodes.has(String(error.details.providerCode))) {
        clock = undefined; // our clock may have jumped: read OVH's again and retry once
        continue;
      }
      throw error;
    }
  }

  return {
    name: 'ovh',
    channel: 'sms',

    async send(message: OutgoingMessage): Promise<SendResult> {
      if (!message.sms) throw new ProviderError('ovh', 'permanent', 'ovh: the message has no SMS text');
      if (!message.recipient) throw new ProviderError('ovh', 'permanent', 'ovh: the message has no recipient');
      const job = {
        receivers: [message.recipient],
        message: message.sms,
        sender,
        senderForResponse: false,
        noStopClause: cfg.transactional_only === true || message.kind === 'transactional' || hasStopMention(message.sms),
      };
      const { status, data } = await signedCall<OvhJobResult>('POST', `${servicePath}/jobs`, job);
      const result: OvhJobResult = data && typeof data === 'object' ? data : {};
      // One receiver per job: any invalid receiver is ours (OVH may echo it normalised, e.g. 0033… for +33…).
      const invalid = (result.invalidReceivers ?? []).length > 0;
      const id = result.ids?.[0];
      if (invalid || id === undefined || id === null || id === '') {
        throw new ProviderError('ovh', 'permanent', invalid ? 'ovh: the recipient number was refused as invalid' : 'ovh: the job was accepted without a message id', {
          status,
          ...(invalid ? { providerCode: 'invalidReceivers' } : {}),
        });
      }
      return { provider: 'ovh', providerMessageId: String(id) };
    },

    async check(): Promise<void> {
      await signedCall('GET', servicePath);
    },

    // An SMS is a job until it leaves, then an outgoing record with the same id; both say the credits it used.
    async lookUpPrice(id: string): Promise<ReportedPrice | null> {
      for (const resource of ['outgoing', 'jobs']) {
        try {
          const { data } = await signedCall<{ credits?: unknown }>('GET', `${servicePath}/${resource}/${encodeURIComponent(id)}`);
          const credits = Number(data?.credits);
          return Number.isFinite(credits) && credits >= 0 ? { credits } : null;
        } catch (error) {
          if (!(error instanceof ProviderError) || error.details.status !== 404) throw error;
        }
      }
      return null;
    },
  };
}

function ovhError(status: number, data: unknown, retryAfter: string | undefined): ProviderError {
  const body: OvhErrorBody = data && typeof data === 'object' ? (data as OvhErrorBody) : {};
  const code = typeof body.errorCode === 'string' ? body.errorCode : undefined;
  const clockRefusal = !code && status === 400 && clockMessage.test(body.message ?? '');
  let errorClass: ProviderErrorClass = classifyHttpStatus(status);
  if ((code && authCodes.has(code)) || clockRefusal) errorClass = 'auth';
  const details: ProviderError['details'] = { status };
  if (code) details.providerCode = code;
  else if (clockRefusal) details.providerCode = /signature/i.test(body.message ?? '') ? 'INVALID_SIGNATURE' : 'QUERY_TIME_OUT';
  if (errorClass === 'rate_limited' || errorClass === 'transient') {
    const wait = retryAfterMs(retryAfter);
    if (wait !== undefined) details.retryAfterMs = wait;
  }
  const text = brief(body.message ?? (typeof data === 'string' ? data : ''));
  return new ProviderError('ovh', errorClass, `ovh: ${status}${code ? ` (${code})` : ''}${text ? `: ${text}` : ''}`, details);
}

