import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import type { Logger } from '../infrastructure/logging/logger.js';
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
 * retried with backoff until 24 h after the first attempt. Several processes may run a sender on one database.
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
    this.subscriptions = new WebhookSubscriptions(db);
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retry = { ...defaultRetryPolicy, ...options.retry };
    this.now = options.now ?? (() => new Date());
    this.random = options.random ?? Math.random;
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

  private async post(
    target: { url: string; secret: string },
    delivery: WebhookDeliveryRow,
    at: Date,
  ): Promise<{ statusCode: number; error: string | null } | { statusCode: null; error: string }> {
    const timestamp = Math.floor(at.getTime() / 1000);
    try {
      const response = await fetch(target.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': userAgent,
          'x-webhook-id': delivery.event_id,
          'x-webhook-event': delivery.event_type,
          'x-webhook-timestamp': String(timestamp),
          'x-webhook-signature': signWebhook(target.secret, timestamp, delivery.body),
        },
        body: delivery.body,
      });
      if (response.ok) {
        await response.body?.cancel();
        return { statusCode: response.status, error: null };
      }
      return { statusCode: response.status, error: await describeRefusal(response) };
    } catch (error) {
      return { statusCode: null, error: describeTransportError(error, this.timeoutMs) };
    }
  }

  private outcomeOf(delivery: WebhookDeliveryRow, at: Date, result: { statusCode: number | null; error: string | null }): AttemptOutcome {
    const { statusCode } = result;
    if (statusCode !== null && statusCode >= 200 && statusCode < 300) return { status: 'delivered', at, statusCode };
    const error = result.error ?? `HTTP ${statusCode}`;
    if (statusCode === 410) return { status: 'failed', at, statusCode, error: `${error} (410 Gone: not retried)` };
    const next = nextAttemptAt(this.retry, { attempts: delivery.attempts + 1, firstAttemptAt: delivery.first_attempt_at ?? at, now: at }, this.random);
    if (!next) return { status: 'failed', at, statusCode, error: `${error} (retries exhausted)` };
    return { status: 'pending', at, statusCode, error, nextAttemptAt: next };
  }
}

async function describeRefusal(response: Response): Promise<string> {
  if (response.status >= 300 && response.status < 400) {
    await response.body?.cancel();
    return `HTTP ${response.status}: redirects are not followed`;
  }
  const excerpt = await readExcerpt(response);
  return excerpt ? `HTTP ${response.status}: ${excerpt}` : `HTTP ${response.status}`;
}

/** The start of the answer only: a receiver's error page may be large. */
async function readExcerpt(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < responseExcerptLength * 4) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // A broken answer body: the status code says enough.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const text = Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim();
  return text.length > responseExcerptLength ? `${text.slice(0, responseExcerptLength)}…` : text;
}

function describeTransportError(error: unknown, timeoutMs: number): string {
  const named = error as { name?: string; cause?: { code?: string; message?: string } };
  if (named?.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`;
  const cause = named?.cause;
  return `request failed (${cause?.code ?? cause?.message ?? (error as Error)?.message ?? 'network error'})`;
}
