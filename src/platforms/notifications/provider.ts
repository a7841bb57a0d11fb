/**
 * The port every notification provider (SendGrid, Mailjet, SMTP, Twilio, OVH, Web Push, FCM) implements.
 * A provider sends one rendered message and answers with the provider's message id, or throws a ProviderError
 * whose class tells the worker what to do next.
 */

export type NotificationChannel = 'email' | 'sms' | 'push';

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
  /** Extra headers, e.g. List-Unsubscribe and List-Unsubscribe-Post for marketing e-mail (RFC 8058). */
  headers?: Record<string, string>;
}

export interface RenderedPush {
  title: string;
  body: string;
  /** Where a tap leads. */
  url?: string;
  data?: Record<string, string>;
}

export interface OutgoingMessage {
  /** Our notification id: providers carry it (custom_args, CustomID, StatusCallback) so that callbacks find it. */
  notificationId: string;
  channel: NotificationChannel;
  /** E-mail address, E.164 phone number, or push target (a Web Push subscription as JSON, or an FCM token). */
  recipient: string;
  /** Marketing or transactional, from the template; providers that treat advertising differently (OVH) use it. */
  kind?: 'marketing' | 'transactional';
  email?: RenderedEmail;
  /** SMS text. */
  sms?: string;
  push?: RenderedPush;
}

export interface SendResult {
  provider: string;
  providerMessageId: string;
  /** What the provider says the message costs, when it says. */
  cost?: { amount: number; currency: string };
}

/**
 * What went wrong, in the terms the worker acts on:
 * - transient: network error, timeout, 5xx — retry later (or fail over to the secondary provider);
 * - rate_limited: 429 or the provider's throttling code — retry after retryAfterMs;
 * - auth: credentials refused — no retry until someone fixes the configuration; alert;
 * - permanent: the provider refuses this message for good (invalid number, rejected content);
 * - suppressed: the recipient opted out at the provider (e.g. Twilio 21610, STOP) — add to the suppression list.
 */
export const providerErrorClasses = ['transient', 'rate_limited', 'auth', 'permanent', 'suppressed'] as const;
export type ProviderErrorClass = (typeof providerErrorClasses)[number];

export class ProviderError extends Error {
  constructor(
    readonly provider: string,
    readonly errorClass: ProviderErrorClass,
    message: string,
    readonly details: { status?: number; providerCode?: string | number; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'ProviderError';
  }

  get retryable(): boolean {
    return this.errorClass === 'transient' || this.errorClass === 'rate_limited';
  }
}

/** What a provider says it charged for one message: money (Twilio), or its own credits (OVH). */
export type ReportedPrice = { amount: number; currency: string; segments?: number } | { credits: number };

export interface NotificationProvider {
  /** e.g. 'sendgrid', 'twilio'. */
  readonly name: string;
  readonly channel: NotificationChannel;
  send(message: OutgoingMessage): Promise<SendResult>;
  /** A cheap authenticated call, for heartbeats; resolves when the provider answers. */
  check?(): Promise<void>;
  /**
   * What the provider charged for a message it sent, for providers that say (Twilio, OVH); null while it does not
   * know yet (Twilio fills the price in some time after sending).
   */
  lookUpPrice?(providerMessageId: string): Promise<ReportedPrice | null>;
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds. */
export function retryAfterMs(header: string | undefined | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The usual HTTP status → error class mapping; providers refine it with their own codes. */
export function classifyHttpStatus(status: number): ProviderErrorClass {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  if (status >= 500 || status === 408) return 'transient';
  return 'permanent';
}
