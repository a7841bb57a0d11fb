import { CommandHandler } from '../../commands/command-handler.js';
import { spendDecider, spendEvents, spendStreamId, type SpendCommand, type SpendEvent, type SpendRecord, type SpendState } from '../../domain/spend.js';
import type { EventStore } from '../../infrastructure/event-store/event-store.js';
import type { ReportedPrice } from '../../platforms/notifications/provider.js';
import type { ProviderPricing } from './provider-pricing.js';

/** The message a spend is about, as the recorder knows it. */
export interface PricedMessage {
  notification_id: string;
  campaign_id: string | null;
  channel: SpendRecord['channel'];
  provider: string;
  provider_message_id: string;
}

/** Records spends; the first one of a notification stands, and recording it again adds nothing. */
export class SpendRecords {
  private readonly handler: CommandHandler<SpendCommand, SpendEvent, SpendState>;

  constructor(store: EventStore) {
    this.handler = new CommandHandler(store, spendDecider, spendEvents);
  }

  async record(spend: SpendRecord, causationId: string): Promise<boolean> {
    const now = new Date(spend.recorded_at);
    const result = await this.handler.handle(
      spendStreamId(spend.notification_id),
      { type: 'RecordSpend', spend },
      { correlationId: `spend:${spend.notification_id}`, causationId, actor: 'spend-recorder', now },
      // The same seed whoever records it: a second recorder's append is then a repeat, not a second event.
      { eventIdSeed: `spend:${spend.notification_id}` },
    );
    return result.appended > 0;
  }
}

/** The spend of one message at the configured unit cost. */
export function configuredSpend(message: PricedMessage, pricing: ProviderPricing, at: Date): SpendRecord {
  // Object.assign, not `{ ...message, amount, … }`: V8 builds a spread followed by properties on a slow path, and this runs
  // for every message sent.
  return Object.assign({}, message, { amount: pricing.unitCost, currency: pricing.currency, source: 'configured' as const, quantity: 1, unit: 'message' as const, recorded_at: at.toISOString() });
}

/**
 * The spend of one message as its provider reported it; OVH's credits are priced with the configured cost of one
 * credit, and without it they cannot be (null).
 */
export function reportedSpend(message: PricedMessage, price: ReportedPrice, pricing: ProviderPricing | undefined, at: Date): SpendRecord | null {
  const recorded_at = at.toISOString();
  if ('credits' in price) {
    if (!pricing) return null;
    return Object.assign({}, message, { amount: round(price.credits * pricing.unitCost), currency: pricing.currency, source: 'reported' as const, quantity: price.credits, unit: 'credit' as const, recorded_at });
  }
  return {
    ...message,
    amount: round(price.amount),
    currency: price.currency,
    source: 'reported',
    quantity: price.segments ?? null,
    unit: price.segments ? 'segment' : null,
    recorded_at,
  };
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
