import type { Readable } from 'node:stream';
import axios from 'axios';
import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import { guardedRequestOptions, type GuardedRequestOptions } from '../infrastructure/http/guarded-agents.js';
import { OutboundAllowlist } from '../infrastructure/http/outbound-allowlist.js';
import { checkOutboundUrl, outboundRefusalOf, type Resolve } from '../infrastructure/http/outbound-guard.js';
import type { Logger } from '../infrastructure/logging/logger.js';
import type { Keyring } from '../infrastructure/secrets/keyring.js';
import { version } from '../version.js';
import { WebhookDeliveries, type AttemptOutcome, type WebhookDeliveryRow } from './webhook-deliveries.js';
import { defaultRetryPolicy, nextAttemptAt, type RetryPolicy } from './webhook-retry.js';
import { signWebhook } from './webhook-signature.js';
import { WebhookSubscriptions } from './webhook-subscriptions.js';

export interface WebhookSenderOptions {
  /** How often to look for due deliveries when nothing wakes the sender (default 1 s). */
  pollIntervalMs?: number;
  /** Deliveries sent at once (default 8). */
  concurrency?: number;
  /** Per attempt, connection and response included (default 10 s). */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** The token vault's, which decrypts the webhook secrets (the app always gives it). */
  keyring?: Keyring;
  /** Non-public receivers that may be reached (COMM_OUTBOUND_ALLOWLIST); default: public addresses only. */
  allowlist?: OutboundAllowlist;
  /** DNS resolution; tests replace it to play a receiver whose name resolves to a private address. */
  resolve?: Resolve;
  /** Injected in tests to move time forward. */
  now?: () => Date;
  random?: () => number;
}

/** Receivers see this; their logs then tell our requests apart. */
const userAgent = `VieuxMoulin-Communication-Webhooks/${version}`;
/** How much of a receiver's error answer is kept for the delivery log. */
const responseExcerptLength = 200;

/**
 * Sends due deliveries: POSTs the stored JSON body, signed, and records each attempt. 2xx is delivered; 410 Gone
 * gives up at once; anything else (other statuses, redirects, which are never followed, timeouts, network errors) is
 * retried with backoff until 24 h after the first attempt. A receiver at a non-public address (see outbound-guard.ts) fails
 * at once; one whose name does not resolve is retried. Several processes may run a sender on one database.
 * Receivers may see a delivery twice (a crash after sending, before recording) and de-duplicate on X-Webhook-Id.
 */
export class WebhookSender {
  private readonly deliveries: WebhookDeliveries;
  private readonly subscriptions: WebhookSubscriptions;
  private readonly pollIntervalMs: number;
  private readonly concurrency: number;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly allowlist: OutboundAllowlist;
  private readonly resolve: Resolve | undefined;
  private readonly guarded: GuardedRequestOptions;
  private readonly inFlight = new Set<Promise<void>>();
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  /** Set by a wake() that came while no one was waiting: the loop then looks again at once. */
  private woken = false;

  constructor(
    db: SharedDatabase,
    private readonly logger: Logger,
    options: WebhookSenderOptions = {},
  ) {
    this.deliveries = new WebhookDeliveries(db);
    this.subscriptions = new WebhookSubscriptions(db, options.keyring);
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retry = { ...defaultRetryPolicy, ...options.retry };
    this.now = options.now ?? (() => new Date());
    this.random = options.random ?? Math.random;
    this.allowlist = options.allowlist ?? OutboundAllowlist.none;
    this.resolve = options.resolve;
    this.guarded = guardedRequestOptions(this.allowlist, options.resolve);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops claiming and lets the sends under way finish and be recorded (each is bounded by the timeout). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake();
    await this.loop;
    this.loop = null;
  }

  /** Look for due deliveries now rather than at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Claims what is due (up to the concurrency) and sends it; returns how many were sent. For tests and tools. */
  async runOnce(): Promise<number> {
    const claimed = await this.claim(this.concurrency);
    await Promise.all(claimed.map((delivery) => this.deliver(delivery)));
    return claimed.length;
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.woken = false;
      const free = this.concurrency - this.inFlight.size;
      if (free > 0) {
        try {
          for (const delivery of await this.claim(free)) this.track(this.deliver(delivery));
        } catch (error) {
          this.logger.error({ err: error }, 'webhook sender could not claim deliveries; trying again at the next poll');
        }
      }
      // Woken by wake(), by a finished send (a slot is free), or by the poll interval.
      if (this.woken) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.pollIntervalMs);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = null;
    }
    await Promise.allSettled([...this.inFlight]);
  }

  private track(send: Promise<void>): void {
    const tracked = send
      .catch((error: unknown) => this.logger.error({ err: error }, 'webhook delivery could not be recorded; it will be sent again'))
      .finally(() => {
        this.inFlight.delete(tracked);
        this.wake();
      });
    this.inFlight.add(tracked);
  }

  private claim(limit: number): Promise<WebhookDeliveryRow[]> {
    // The lease outlasts an attempt, so that no other sender takes a delivery that is still being sent.
    const now = this.now();
    return this.deliveries.claimDue(now, limit, new Date(now.getTime() + this.timeoutMs + 60_000));
  }

  private async deliver(delivery: WebhookDeliveryRow): Promise<void> {
    const target = await this.subscriptions.target(delivery.subscription_id);
    if (!target) {
      await this.deliveries.cancel(delivery.id);
      return;
    }
    const at = this.now();
    const result = await this.post(target, delivery, at);
    const outcome = this.outcomeOf(delivery, at, result);
    await this.deliveries.record(delivery.id, outcome);
    if (outcome.status !== 'delivered') {
      this.logger.warn(
        { deliveryId: delivery.id, subscriptionId: delivery.subscription_id, eventId: delivery.event_id, statusCode: outcome.statusCode, outcome: outcome.status },
        'webhook delivery attempt failed',
      );
    }
  }

  private async post(target: { url: string; secret: string }, delivery: WebhookDeliveryRow, at: Date): Promise<AttemptResult> {
    const timestamp = Math.floor(at.getTime() / 1000);
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      // Checked at registration too, but DNS may have changed since; the guarded agents check again at connection.
      await checkOutboundUrl(target.url, { allowlist: this.allowlist, resolve: this.resolve });
      const response = await axios.post<Readable>(target.url, delivery.body, {
        ...this.guarded,
        maxRedirects: 0,
        responseType: 'stream',
        validateStatus: () => true,
        signal,
        // The exact bytes that were signed: axios would otherwise re-serialise (trim) a JSON string.
        transformRequest: [(body: string) => body],
        headers: {
          'content-type': 'application/json',
          'user-agent': userAgent,
          'x-webhook-id': delivery.event_id,
          'x-webhook-event': delivery.event_type,
          'x-webhook-timestamp': String(timestamp),
          'x-webhook-signature': signWebhook(target.secret, timestamp, delivery.body),
        },
      });
      if (response.status >= 200 && response.status < 300) {
        response.data.destroy();
        return { statusCode: response.status, error: null };
      }
      return { statusCode: response.status, error: await describeRefusal(response.status, response.data, signal) };
    } catch (error) {
      const refusal = outboundRefusalOf(error);
      if (refusal) return { statusCode: null, error: refusal.reason, final: !refusal.retryable };
      return { statusCode: null, error: describeTransportError(error, signal, this.timeoutMs) };
    }
  }

  private outcomeOf(delivery: WebhookDeliveryRow, at: Date, result: AttemptResult): AttemptOutcome {
    const { statusCode } = result;
    if (statusCode !== null && statusCode >= 200 && statusCode < 300) return { status: 'delivered', at, statusCode };
    const error = result.error ?? `HTTP ${statusCode}`;
    if (result.final) return { status: 'failed', at, statusCode, error: `${error} (refused: not retried)` };
    if (statusCode === 410) return { status: 'failed', at, statusCode, error: `${error} (410 Gone: not retried)` };
    const next = nextAttemptAt(this.retry, { attempts: delivery.attempts + 1, firstAttemptAt: delivery.first_attempt_at ?? at, now: at }, this.random);
    if (!next) return { status: 'failed', at, statusCode, error: `${error} (retries exhausted)` };
    return { status: 'pending', at, statusCode, error, nextAttemptAt: next };
  }
}

/** What one attempt gave; `final` when asking again cannot give another answer (a refused destination). */
type AttemptResult = { statusCode: number | null; error: string | null; final?: boolean };

async function describeRefusal(status: number, body: Readable, signal: AbortSignal): Promise<string> {
  if (status >= 300 && status < 400) {
    body.destroy();
    return `HTTP ${status}: redirects are not followed`;
  }
  const excerpt = await readExcerpt(body, signal);
  return excerpt ? `HTTP ${status}: ${excerpt}` : `HTTP ${status}`;
}

/** The start of the answer only: a receiver's error page may be large, or sent slowly (the attempt's timeout holds). */
async function readExcerpt(body: Readable, signal: AbortSignal): Promise<string> {
  const stop = () => body.destroy();
  signal.addEventListener('abort', stop, { once: true });
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= responseExcerptLength * 4) break;
    }
  } catch {
    // A broken answer body: the status code says enough.
  } finally {
    signal.removeEventListener('abort', stop);
    body.destroy();
  }
  const text = Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim();
  return text.length > responseExcerptLength ? `${text.slice(0, responseExcerptLength)}…` : text;
}

function describeTransportError(error: unknown, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted) return `no answer within ${timeoutMs / 1000} s`;
  const coded = error as { code?: string; message?: string } | undefined;
  return `request failed (${coded?.code ?? coded?.message ?? 'network error'})`;
}
