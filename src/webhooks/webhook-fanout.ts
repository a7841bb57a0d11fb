import { ZodError } from 'zod';
import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import type { RecordedEvent } from '../infrastructure/event-store/event-store.js';
import type { Logger } from '../infrastructure/logging/logger.js';
import type { ReactorDefinition } from '../reactors/reactor.js';
import { WebhookDeliveries } from './webhook-deliveries.js';
import { webhookMessageFor, webhookSourceEventTypes } from './webhook-payloads.js';

export interface WebhookFanoutOptions {
  /** Told when deliveries were queued, so that a sender in this process need not wait for its next poll. */
  onQueued?: () => void;
  now?: () => Date;
}

/**
 * Turns publication and engagement events into one pending delivery per matching registration. Handling an event
 * twice (the reactor is at-least-once) adds nothing: a delivery is keyed by (registration, event).
 */
export function webhookFanout(db: SharedDatabase, logger: Logger, options: WebhookFanoutOptions = {}): ReactorDefinition {
  const deliveries = new WebhookDeliveries(db);
  const now = options.now ?? (() => new Date());
  return {
    name: 'webhook-fanout',
    filter: { eventTypes: webhookSourceEventTypes },
    async handle(event: RecordedEvent) {
      const message = messageOrSkip(event, logger);
      if (!message) return;
      const queued = await deliveries.queue({
        eventId: event.id,
        eventType: message.event_type,
        body: JSON.stringify(message),
        occurredAt: event.createdAt,
        dueAt: now(),
      });
      if (queued > 0) options.onQueued?.();
    },
  };
}

/** An event whose data does not parse is skipped and logged: retrying cannot fix it, and it must not stall the rest. */
function messageOrSkip(event: RecordedEvent, logger: Logger): ReturnType<typeof webhookMessageFor> {
  try {
    return webhookMessageFor(event);
  } catch (error) {
    if (!(error instanceof ZodError)) throw error;
    logger.error({ eventId: event.id, eventType: event.type, issues: error.issues.map((i) => i.path.join('.')) }, 'event not turned into a webhook: unexpected data');
    return null;
  }
}
