import type { Decider } from './decider.js';
import { DomainError } from './domain-error.js';
import { assertInteractive, assertSameMessage, assertTransition, assertValidRecipient, truncate } from './notification-rules.js';
import {
  MAX_NOTIFICATION_ERROR_LENGTH,
  type NotificationChannel,
  type NotificationErrorClass,
  type NotificationEvent,
  type NotificationRequest,
  type NotificationSkipReason,
  type NotificationStatus,
} from './notification-events.js';

export * from './notification-events.js';
export { recipientProblem } from './notification-rules.js';

/**
 * Notification: one message (email, SMS or push) to one recipient, from a template (spec "Modèle de données principal").
 * Lifecycle: pending → sent → delivered | failed; failed also straight from pending (the provider refused it);
 * skipped only from pending (not sent on purpose: no consent, suppressed address, opted out — see consent.ts and the
 * consent policy); canceled only from pending (its campaign was canceled). delivered, failed and skipped are final;
 * canceled is final too, except that a send already under way when the cancellation came is recorded (→ sent): the
 * message did leave, and the record must say so.
 *
 * Interactions (opens, clicks) are tracked after sending, and never change the status: an opened email is still
 * "delivered" (or "sent" if no delivery report came). Every open and click is recorded as an event; the first open and
 * the first click are flagged (first_open / first_click) and counted once in the state (first_opened_at,
 * first_clicked_at), later ones only add to open_count / click_count. A click does not imply an open.
 *
 * Idempotency: the same provider_message_id reported sent again, a delivery reported again, a failure reported once the
 * notification has already failed, a skip repeated: no new event.
 */

// ---- commands -----------------------------------------------------------------------------------------------------

/** `now` is given by the caller: deciders read no clock. Provider timestamps (sent_at, delivered_at…) default to now. */
export type NotificationCommand =
  | { type: 'RequestNotification'; notification_id: string; request: NotificationRequest; now: string }
  | {
      type: 'RecordNotificationSent';
      notification_id: string;
      provider: string;
      provider_message_id: string;
      sent_at: string;
      now: string;
    }
  | {
      type: 'RecordNotificationDelivered';
      notification_id: string;
      provider_message_id: string;
      delivered_at?: string;
      now: string;
    }
  | {
      type: 'RecordNotificationFailed';
      notification_id: string;
      error_class: NotificationErrorClass;
      message: string;
      provider: string;
      /** Absent when the provider refused the message before giving it an id. */
      provider_message_id?: string;
      now: string;
    }
  | { type: 'RecordNotificationOpened'; notification_id: string; provider_message_id: string; opened_at?: string; now: string }
  | {
      type: 'RecordNotificationClicked';
      notification_id: string;
      provider_message_id: string;
      url: string;
      clicked_at?: string;
      now: string;
    }
  | {
      type: 'SkipNotification';
      notification_id: string;
      reason: NotificationSkipReason;
      /** What the decision was based on (no personal data); cut to MAX_NOTIFICATION_ERROR_LENGTH. */
      detail?: string;
      now: string;
    }
  | { type: 'CancelNotification'; notification_id: string; reason?: string; now: string };

// ---- state --------------------------------------------------------------------------------------------------------

type FailedData = Extract<NotificationEvent, { type: 'NotificationFailed' }>['data'];
export type NotificationFailure = FailedData extends infer F ? (F extends unknown ? Omit<F, 'notification_id'> : never) : never;
export type NotificationSkip = Omit<Extract<NotificationEvent, { type: 'NotificationSkipped' }>['data'], 'notification_id'>;

export interface NotificationFields {
  notification_id: string;
  template_id: string;
  /** The version to render (see NotificationRequested); absent: the latest at send time. */
  template_version?: number;
  recipient: string;
  channel: NotificationChannel;
  data: Record<string, unknown>;
  campaign_id: string | null;
  requested_at: string;
  provider: string | null;
  provider_message_id: string | null;
  sent_at: string | null;
  delivered_at: string | null;
  failure: NotificationFailure | null;
  first_opened_at: string | null;
  open_count: number;
  first_clicked_at: string | null;
  click_count: number;
  /**
   * Why it was skipped, once skipped. Optional: a state rebuilt from the notifications read model has only the status
   * (the reason is in the notification's history there).
   */
  skip?: NotificationSkip | null;
}

export type NotificationState = { status: 'none' } | ({ status: NotificationStatus } & NotificationFields);
type ExistingState = Exclude<NotificationState, { status: 'none' }>;

export const notificationDecider: Decider<NotificationCommand, NotificationEvent, NotificationState> = {
  initialState: () => ({ status: 'none' }),
  decide,
  evolve,
};

function decide(command: NotificationCommand, state: NotificationState): NotificationEvent[] {
  const notification_id = command.notification_id;
  if (command.type === 'RequestNotification') {
    if (state.status !== 'none') {
      throw new DomainError('notification_already_exists', `Notification ${notification_id} already exists`);
    }
    const { request } = command;
    assertValidRecipient(request.channel, request.recipient);
    return [
      {
        type: 'NotificationRequested',
        data: Object.assign({ notification_id }, request, { campaign_id: request.campaign_id ?? null, requested_at: command.now }),
      },
    ];
  }
  if (state.status === 'none') {
    throw new DomainError('notification_not_found', `Notification ${notification_id} does not exist`);
  }
  switch (command.type) {
    case 'RecordNotificationSent': {
      if (state.provider_message_id !== null) {
        if (state.provider_message_id === command.provider_message_id) return [];
        throw new DomainError('notification_already_sent', 'The notification was already sent', [
          { path: 'provider_message_id', message: `already sent as ${state.provider_message_id}` },
        ]);
      }
      assertTransition(state.status, 'sent', ['pending', 'canceled']);
      const { provider, provider_message_id, sent_at } = command;
      return [{ type: 'NotificationSent', data: { notification_id, provider, provider_message_id, sent_at } }];
    }
    case 'RecordNotificationDelivered': {
      if (state.provider_message_id !== null) assertSameMessage(state, command.provider_message_id);
      if (state.status === 'delivered') return [];
      assertTransition(state.status, 'delivered', ['sent']);
      const { provider_message_id, delivered_at = command.now } = command;
      return [{ type: 'NotificationDelivered', data: { notification_id, provider_message_id, delivered_at } }];
    }
    case 'RecordNotificationFailed': {
      if (state.status === 'failed') return []; // the first failure stands
      assertTransition(state.status, 'failed', ['pending', 'sent']);
      if (command.provider_message_id !== undefined && state.provider_message_id !== null) {
        assertSameMessage(state, command.provider_message_id);
      }
      return [
        {
          type: 'NotificationFailed',
          data: {
            notification_id,
            reason: state.status === 'pending' ? 'send_failed' : 'delivery_failed',
            error_class: command.error_class,
            message: truncate(command.message, MAX_NOTIFICATION_ERROR_LENGTH),
            provider: command.provider,
            provider_message_id: command.provider_message_id ?? state.provider_message_id,
            failed_at: command.now,
          },
        },
      ];
    }
    case 'RecordNotificationOpened':
      assertInteractive(state, command.provider_message_id);
      return [
        {
          type: 'NotificationOpened',
          data: {
            notification_id,
            provider_message_id: command.provider_message_id,
            opened_at: command.opened_at ?? command.now,
            first_open: state.first_opened_at === null,
          },
        },
      ];
    case 'RecordNotificationClicked':
      assertInteractive(state, command.provider_message_id);
      return [
        {
          type: 'NotificationClicked',
          data: {
            notification_id,
            provider_message_id: command.provider_message_id,
            url: command.url,
            clicked_at: command.clicked_at ?? command.now,
            first_click: state.first_clicked_at === null,
          },
        },
      ];
    case 'SkipNotification':
      if (state.status === 'skipped' || state.status === 'canceled') return []; // the first decision stands
      if (state.status === 'sent' || state.status === 'delivered') {
        throw new DomainError('notification_already_sent', 'A notification already sent cannot be skipped', [
          { path: 'status', message: `is ${state.status}` },
        ]);
      }
      assertTransition(state.status, 'skipped', ['pending']);
      return [
        {
          type: 'NotificationSkipped',
          data: {
            notification_id,
            reason: command.reason,
            detail: truncate(command.detail ?? '', MAX_NOTIFICATION_ERROR_LENGTH),
            skipped_at: command.now,
          },
        },
      ];
    case 'CancelNotification':
      if (state.status === 'canceled') return [];
      assertTransition(state.status, 'canceled', ['pending']);
      return [
        {
          type: 'NotificationCanceled',
          data: { notification_id, reason: truncate(command.reason ?? '', MAX_NOTIFICATION_ERROR_LENGTH), canceled_at: command.now },
        },
      ];
  }
}

// The states below are built with Object.assign rather than `{ ...state, status, ... }`: V8 (Node 20) builds a spread
// followed by more properties on a slow path (tens of microseconds for a dozen of them), and this runs for every
// notification the API accepts and every job the worker takes.
function evolve(state: NotificationState, event: NotificationEvent): NotificationState {
  if (event.type === 'NotificationRequested') {
    return Object.assign({}, event.data, {
      status: 'pending' as const,
      provider: null,
      provider_message_id: null,
      sent_at: null,
      delivered_at: null,
      failure: null,
      first_opened_at: null,
      open_count: 0,
      first_clicked_at: null,
      click_count: 0,
      skip: null,
    });
  }
  if (state.status === 'none') return state;
  return evolveExisting(state, event);
}

function evolveExisting(
  state: ExistingState,
  event: Exclude<NotificationEvent, { type: 'NotificationRequested' }>,
): ExistingState {
  switch (event.type) {
    case 'NotificationSent': {
      const { provider, provider_message_id, sent_at } = event.data;
      return Object.assign({}, state, { status: 'sent' as const, provider, provider_message_id, sent_at });
    }
    case 'NotificationDelivered':
      return Object.assign({}, state, { status: 'delivered' as const, delivered_at: event.data.delivered_at });
    case 'NotificationFailed': {
      const { notification_id: _id, ...failure } = event.data;
      return Object.assign({}, state, { status: 'failed' as const, failure });
    }
    case 'NotificationSkipped': {
      const { notification_id: _id, ...skip } = event.data;
      return Object.assign({}, state, { status: 'skipped' as const, skip });
    }
    case 'NotificationCanceled':
      return Object.assign({}, state, { status: 'canceled' as const });
    case 'NotificationOpened':
      return Object.assign({}, state, {
        first_opened_at: state.first_opened_at ?? event.data.opened_at,
        open_count: state.open_count + 1,
      });
    case 'NotificationClicked':
      return Object.assign({}, state, {
        first_clicked_at: state.first_clicked_at ?? event.data.clicked_at,
        click_count: state.click_count + 1,
      });
  }
}
