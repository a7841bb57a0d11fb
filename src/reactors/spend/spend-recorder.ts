import type { NotificationEvent } from '../../domain/notification-events.js';
import type { EventStore, RecordedEvent } from '../../infrastructure/event-store/event-store.js';
import type { ReactorDefinition } from '../reactor.js';
import type { ProviderPricing } from './provider-pricing.js';
import type { SpendPriceLookups } from './spend-price-lookups.js';
import { configuredSpend, type PricedMessage, type SpendRecords } from './spend-records.js';

type DataOf<T> = Extract<NotificationEvent, { type: T }>['data'];
type Requested = DataOf<'NotificationRequested'>;

export interface SpendRecorderDeps {
  store: EventStore;
  records: SpendRecords;
  lookups: SpendPriceLookups;
  /** Configured unit costs, by provider name. */
  pricing: Map<string, ProviderPricing>;
  /** Providers that report what a message cost (their price is asked, see SpendPricePoller). */
  reporting: Set<string>;
  /** How long after sending the price is first asked; the delivery report brings it forward. Default 60 s. */
  firstLookupDelayMs?: number;
  now?: () => Date;
}

/**
 * Spend for accounting: for each notification sent, either asks its provider's price later (Twilio, OVH: a price
 * lookup, see spend-price-poller.ts) or records the configured unit cost now (SendGrid, Mailjet, SMTP, push). A
 * delivery report (or a bounce) brings the lookup forward: by then the provider has priced the message.
 *
 * At-least-once like every reactor: a lookup is scheduled once per notification and a spend recorded once per
 * notification, so handling an event again changes nothing.
 */
export function spendRecorder(deps: SpendRecorderDeps): ReactorDefinition {
  const now = deps.now ?? (() => new Date());
  const firstLookupDelayMs = deps.firstLookupDelayMs ?? 60_000;
  return {
    name: 'spend-recorder',
    filter: { categories: ['notification'], eventTypes: ['NotificationSent', 'NotificationDelivered', 'NotificationFailed'] },
    async handle(event: RecordedEvent) {
      if (event.type !== 'NotificationSent') {
        const { notification_id, provider_message_id } = event.data as DataOf<'NotificationDelivered'> | DataOf<'NotificationFailed'>;
        if (provider_message_id) await deps.lookups.hurry(notification_id, now());
        return;
      }
      const sent = event.data as DataOf<'NotificationSent'>;
      const reports = deps.reporting.has(sent.provider);
      const pricing = deps.pricing.get(sent.provider);
      if (!reports && !pricing) return;
      const message = await pricedMessage(deps.store, sent);
      if (!message) return;
      if (reports) {
        await deps.lookups.schedule({ ...message, due_at: new Date(now().getTime() + firstLookupDelayMs) });
        return;
      }
      await deps.records.record(configuredSpend(message, pricing!, now()), event.id);
    },
  };
}

/** The sent message with its campaign and channel, which only the notification's request names. */
async function pricedMessage(store: EventStore, sent: DataOf<'NotificationSent'>): Promise<PricedMessage | null> {
  const [first] = await store.readStream(`notification-${sent.notification_id}`, { maxCount: 1 });
  if (first?.type !== 'NotificationRequested') return null;
  const requested = first.data as Requested;
  return {
    notification_id: sent.notification_id,
    campaign_id: requested.campaign_id ?? null,
    channel: requested.channel,
    provider: sent.provider,
    provider_message_id: sent.provider_message_id,
  };
}
