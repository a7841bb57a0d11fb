import { isDomainError } from '../domain/domain-error.js';
import {
  notificationDecider,
  notificationEvents,
  type NotificationCommand,
  type NotificationEvent,
  type NotificationRequest,
  type NotificationState,
} from '../domain/notification.js';
import { WrongExpectedRevisionError, type EventStore, type Position, type StreamAppend } from '../infrastructure/event-store/event-store.js';
import { CommandHandler, seededUuid, type CommandContext } from './command-handler.js';
import { notificationStreamId } from './notification-routes.js';

export interface NotificationToRequest {
  notification_id: string;
  request: NotificationRequest;
}

export interface BatchOutcome {
  /** Requests in the store after the call: new ones and repeats of earlier calls. */
  requested: number;
  /** Refused by the decider (a malformed address): never requested. */
  rejected: { notification_id: string; code: string }[];
  position: Position | null;
}

/**
 * Requests or cancels many notifications with one store call per batch (appendMany) instead of one per notification:
 * a 100,000-recipient campaign then costs a few dozen round trips. Each notification is still decided by the
 * notification decider, as POST /notify decides it, and is then dispatched and sent like any other.
 *
 * Event ids derive from the notification id, so a batch requested again (a replay, a retry after a crash) finds its
 * events already stored and writes nothing.
 */
export class NotificationBatch {
  private readonly handler: CommandHandler<NotificationCommand, NotificationEvent, NotificationState>;

  constructor(private readonly store: EventStore) {
    this.handler = new CommandHandler(store, notificationDecider, notificationEvents);
  }

  async request(items: NotificationToRequest[], context: CommandContext): Promise<BatchOutcome> {
    const appends: StreamAppend[] = [];
    const rejected: BatchOutcome['rejected'] = [];
    const now = context.now.toISOString();
    for (const { notification_id, request } of items) {
      let events: NotificationEvent[];
      try {
        events = notificationDecider.decide({ type: 'RequestNotification', notification_id, request, now }, notificationDecider.initialState());
      } catch (error) {
        if (!isDomainError(error)) throw error;
        rejected.push({ notification_id, code: error.code });
        continue;
      }
      appends.push({
        streamId: notificationStreamId(notification_id),
        events: events.map((event, index) => this.handler.toEventData(event, context, seededUuid(`${notification_id}#${index}`))),
        expectedRevision: 'no_stream',
      });
    }
    const results = await this.store.appendMany(appends);
    return { requested: results.length, rejected, position: results.at(-1)?.position ?? null };
  }

  /**
   * Cancels notifications still pending at the revision given (as the notifications read model shows them). When one
   * moved on meanwhile (its worker sent it), the batch is decided again one notification at a time on the fresh state.
   * Returns how many were canceled.
   */
  async cancel(items: { notification_id: string; revision: number }[], reason: string, context: CommandContext): Promise<number> {
    const now = context.now.toISOString();
    const command = (notification_id: string): NotificationCommand => ({ type: 'CancelNotification', notification_id, reason, now });
    try {
      const appends = items.map(({ notification_id, revision }) => ({
        streamId: notificationStreamId(notification_id),
        events: [this.handler.toEventData({ type: 'NotificationCanceled', data: { notification_id, reason, canceled_at: now } }, context, seededUuid(`${context.causationId}:${notification_id}#0`))],
        expectedRevision: revision,
      }));
      return (await this.store.appendMany(appends)).length;
    } catch (error) {
      if (!(error instanceof WrongExpectedRevisionError)) throw error;
    }
    let canceled = 0;
    for (const { notification_id } of items) {
      try {
        const result = await this.handler.handle(notificationStreamId(notification_id), command(notification_id), context, {
          eventIdSeed: `${context.causationId}:${notification_id}`,
        });
        canceled += result.appended;
      } catch (error) {
        if (!isDomainError(error)) throw error; // sent, failed or skipped meanwhile: nothing left to cancel
      }
    }
    return canceled;
  }
}
