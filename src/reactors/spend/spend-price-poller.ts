import { RepeatingRound } from '../../infrastructure/time/repeating-round.js';
import type { Logger } from '../../infrastructure/logging/logger.js';
import type { NotificationProvider } from '../../platforms/notifications/provider.js';
import type { ProviderPricing } from './provider-pricing.js';
import type { PriceLookup, SpendPriceLookups } from './spend-price-lookups.js';
import { configuredSpend, reportedSpend, type PricedMessage, type SpendRecords } from './spend-records.js';

export interface SpendPricePollerOptions {
  /** Between two rounds. Default 15 s. */
  intervalMs?: number;
  /** Delays before asking again a price not known yet; after the last, the configured cost (if any) is recorded. */
  retryDelaysMs?: number[];
  /** Lookups per round. Default 50. */
  batchSize?: number;
  now?: () => Date;
}

const defaultRetryDelaysMs = [60_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 12 * 3_600_000];
/** How long a claimed lookup stays out of other pollers' reach. */
const LEASE_MS = 5 * 60_000;

/**
 * Asks providers what the messages on the price lookup list cost (Twilio's Message resource, OVH's outgoing SMS) and
 * records the spend (source reported). A price not known yet is asked again later; once the provider has been asked
 * enough times, the configured unit cost is recorded instead when there is one, else the message stays unpriced (logged).
 */
export class SpendPricePoller {
  private readonly retryDelaysMs: number[];
  private readonly intervalMs: number;
  private readonly batchSize: number;
  private readonly now: () => Date;

  private readonly rounds: RepeatingRound;

  constructor(
    private readonly lookups: SpendPriceLookups,
    private readonly records: SpendRecords,
    private readonly providers: Map<string, NotificationProvider>,
    private readonly pricing: Map<string, ProviderPricing>,
    private readonly logger: Logger,
    options: SpendPricePollerOptions = {},
  ) {
    this.retryDelaysMs = options.retryDelaysMs ?? defaultRetryDelaysMs;
    this.intervalMs = options.intervalMs ?? 15_000;
    this.batchSize = options.batchSize ?? 50;
    this.now = options.now ?? (() => new Date());
    this.rounds = new RepeatingRound(() => this.tick(), this.intervalMs, (err) => this.logger.error({ err }, 'price lookup round failed; trying again next round'));
  }

  start(): void {
    this.rounds.start();
  }

  async stop(): Promise<void> {
    await this.rounds.stop();
  }

  /** One round: every due lookup; returns how many spends were recorded. */
  async tick(): Promise<number> {
    const due = await this.lookups.claimDue(this.now(), this.batchSize, LEASE_MS);
    let recorded = 0;
    for (const lookup of due) {
      try {
        if (await this.lookUp(lookup)) recorded++;
      } catch (error) {
        this.logger.warn({ notification_id: lookup.notification_id, provider: lookup.provider, error: (error as Error).message }, 'price lookup failed; asking again later');
        await this.later(lookup);
      }
    }
    return recorded;
  }

  private async lookUp(lookup: PriceLookup): Promise<boolean> {
    const pricing = this.pricing.get(lookup.provider);
    const price = await this.providers.get(lookup.provider)?.lookUpPrice?.(lookup.provider_message_id);
    if (price) {
      const spend = reportedSpend(messageOf(lookup), price, pricing, this.now());
      if (!spend) this.logger.warn({ provider: lookup.provider, notification_id: lookup.notification_id }, 'credits reported but no unit_cost configured for them; spend not recorded');
      const recorded = spend ? await this.records.record(spend, `price-lookup:${lookup.notification_id}`) : false;
      await this.lookups.done(lookup.notification_id);
      return recorded;
    }
    return this.later(lookup);
  }

  /** Asks again after the next delay; past the last one, falls back to the configured cost. */
  private async later(lookup: PriceLookup): Promise<boolean> {
    const delay = this.retryDelaysMs[lookup.attempts];
    if (delay !== undefined) {
      await this.lookups.retryAt(lookup.notification_id, lookup.attempts + 1, new Date(this.now().getTime() + delay));
      return false;
    }
    await this.lookups.done(lookup.notification_id);
    const pricing = this.pricing.get(lookup.provider);
    // OVH's unit_cost is the price of a credit, not of a message: without the credits there is nothing to multiply.
    if (!pricing || lookup.provider === 'ovh') {
      this.logger.warn({ provider: lookup.provider, notification_id: lookup.notification_id }, 'the provider never reported a price; spend not recorded');
      return false;
    }
    return this.records.record(configuredSpend(messageOf(lookup), pricing, this.now()), `price-lookup:${lookup.notification_id}`);
  }

}

function messageOf(lookup: PriceLookup): PricedMessage {
  return {
    notification_id: lookup.notification_id,
    campaign_id: lookup.campaign_id,
    channel: lookup.channel as PricedMessage['channel'],
    provider: lookup.provider,
    provider_message_id: lookup.provider_message_id,
  };
}
