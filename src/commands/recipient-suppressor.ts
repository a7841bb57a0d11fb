import { consentDecider, consentEvents, consentStreamId, type ConsentCommand, type ConsentEvent, type ConsentState, type SuppressionReason } from '../domain/consent.js';
import type { NotificationChannel } from '../domain/notification.js';
import type { EventStore } from '../infrastructure/event-store/event-store.js';
import { CommandHandler, type CommandContext } from './command-handler.js';

/**
 * Puts a recipient on the suppression list of a channel, from what a provider reported: an unsubscribe or a spam
 * report from an e-mail webhook, a hard bounce, a STOP reply (Twilio 21610), a push subscription that is gone.
 * The suppression then holds for every later message, not only for the notification that revealed it.
 */
export class RecipientSuppressor {
  private readonly handler: CommandHandler<ConsentCommand, ConsentEvent, ConsentState>;

  constructor(store: EventStore) {
    this.handler = new CommandHandler(store, consentDecider, consentEvents);
  }

  async suppress(
    subject: { recipient: string; channel: NotificationChannel; reason: SuppressionReason; source: string },
    context: CommandContext,
    /** Derives the event ids, so that the same report handled twice suppresses once. */
    eventIdSeed?: string,
  ): Promise<void> {
    await this.handler.handle(
      consentStreamId(subject.recipient, subject.channel),
      { type: 'SuppressRecipient', ...subject, now: context.now.toISOString() },
      context,
      eventIdSeed ? { eventIdSeed } : {},
    );
  }
}
