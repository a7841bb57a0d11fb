import { describe, expect, it } from 'vitest';
import { fold } from '../../src/domain/decider.js';
import {
  MAX_NOTIFICATION_ERROR_LENGTH,
  notificationDecider,
  notificationErrorClasses,
  notificationEvents,
  notificationRequestSchema,
  notificationSkipReasons,
  recipientProblem,
  type NotificationChannel,
  type NotificationCommand,
  type NotificationEvent,
  type NotificationRequest,
  type NotificationSkipReason,
  type NotificationState,
} from '../../src/domain/notification.js';
import { expectConformToCatalogue, given, randomGenerator, randomWalk, recording, run } from './given-when-then.js';

const notification_id = 'c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f';
const campaign_id = '3f1c2b8e-5d4a-4c9b-8f2e-1a2b3c4d5e6f';
const NOW = '2025-04-20T10:00:00.000Z';
const SENT_AT = '2025-04-20T10:00:02.000Z';
const LATER = '2025-04-20T11:00:00.000Z';
const MESSAGE_ID = 'sg_msg_0001';

const request: NotificationRequest = notificationRequestSchema.parse({
  template_id: 'promotional_email',
  recipient: 'marie.dupont@example.fr',
  channel: 'email',
  data: { promo_title: 'Menu de printemps', customer: { first_name: 'Marie' } },
  campaign_id,
});

const decider = recording(notificationDecider);

// ---- events -------------------------------------------------------------------------------------------------------

const requested = (changes: Partial<NotificationRequest> = {}): NotificationEvent => ({
  type: 'NotificationRequested',
  data: { notification_id, ...request, campaign_id, requested_at: NOW, ...changes } as Extract<
    NotificationEvent,
    { type: 'NotificationRequested' }
  >['data'],
});
const sent: NotificationEvent = {
  type: 'NotificationSent',
  data: { notification_id, provider: 'sendgrid', provider_message_id: MESSAGE_ID, sent_at: SENT_AT },
};
const delivered = (delivered_at = LATER): NotificationEvent => ({
  type: 'NotificationDelivered',
  data: { notification_id, provider_message_id: MESSAGE_ID, delivered_at },
});
const sendFailed: NotificationEvent = {
  type: 'NotificationFailed',
  data: {
    notification_id,
    reason: 'send_failed',
    error_class: 'validation',
    message: 'invalid from address',
    provider: 'sendgrid',
    provider_message_id: null,
    failed_at: LATER,
  },
};
const bounced: NotificationEvent = {
  type: 'NotificationFailed',
  data: {
    notification_id,
    reason: 'delivery_failed',
    error_class: 'bounced',
    message: 'mailbox does not exist',
    provider: 'sendgrid',
    provider_message_id: MESSAGE_ID,
    failed_at: LATER,
  },
};
const skipped = (reason: NotificationSkipReason = 'no_consent', detail = 'no marketing consent on record'): NotificationEvent => ({
  type: 'NotificationSkipped',
  data: { notification_id, reason, detail, skipped_at: NOW },
});
const opened = (first_open: boolean, opened_at = LATER): NotificationEvent => ({
  type: 'NotificationOpened',
  data: { notification_id, provider_message_id: MESSAGE_ID, opened_at, first_open },
});
const clicked = (first_click: boolean, clicked_at = LATER): NotificationEvent => ({
  type: 'NotificationClicked',
  data: { notification_id, provider_message_id: MESSAGE_ID, url: 'https://levieuxmoulin.fr/reserver', clicked_at, first_click },
});

const history = {
  pending: [requested()],
  sent: [requested(), sent],
  delivered: [requested(), sent, delivered()],
  sendFailed: [requested(), sendFailed],
  bounced: [requested(), sent, bounced],
  skipped: [requested(), skipped()],
};

// ---- commands -----------------------------------------------------------------------------------------------------

const requestIt = (r: NotificationRequest = request): NotificationCommand => ({
  type: 'RequestNotification',
  notification_id,
  request: r,
  now: NOW,
});
const recordSent = (provider_message_id = MESSAGE_ID): NotificationCommand => ({
  type: 'RecordNotificationSent',
  notification_id,
  provider: 'sendgrid',
  provider_message_id,
  sent_at: SENT_AT,
  now: SENT_AT,
});
const recordDelivered = (provider_message_id = MESSAGE_ID, delivered_at?: string): NotificationCommand => ({
  type: 'RecordNotificationDelivered',
  notification_id,
  provider_message_id,
  delivered_at,
  now: LATER,
});
const recordFailed = (
  changes: Partial<Extract<NotificationCommand, { type: 'RecordNotificationFailed' }>> = {},
): NotificationCommand => ({
  type: 'RecordNotificationFailed',
  notification_id,
  error_class: 'bounced',
  message: 'mailbox does not exist',
  provider: 'sendgrid',
  now: LATER,
  ...changes,
});
const recordOpened = (provider_message_id = MESSAGE_ID, opened_at?: string): NotificationCommand => ({
  type: 'RecordNotificationOpened',
  notification_id,
  provider_message_id,
  opened_at,
  now: LATER,
});
const recordClicked = (provider_message_id = MESSAGE_ID): NotificationCommand => ({
  type: 'RecordNotificationClicked',
  notification_id,
  provider_message_id,
  url: 'https://levieuxmoulin.fr/reserver',
  now: LATER,
});
const skip = (reason: NotificationSkipReason = 'no_consent', detail: string = 'no marketing consent on record'): NotificationCommand => ({
  type: 'SkipNotification',
  notification_id,
  reason,
  detail,
  now: NOW,
});

const stateOf = (events: NotificationEvent[]) => {
  const state = fold(notificationDecider, events);
  if (state.status === 'none') throw new Error('no notification');
  return state;
};

// ---- tests --------------------------------------------------------------------------------------------------------

describe('RequestNotification', () => {
  it('records a pending notification', () => {
    given(decider).when(requestIt()).then([requested()]);
    expect(stateOf(history.pending)).toMatchObject({
      status: 'pending',
      recipient: request.recipient,
      channel: 'email',
      sent_at: null,
      open_count: 0,
      click_count: 0,
    });
  });

  it('records a null campaign when none is given', () => {
    const r = { ...request, campaign_id: undefined };
    given(decider)
      .when(requestIt(r))
      .then([{ type: 'NotificationRequested', data: { notification_id, ...r, campaign_id: null, requested_at: NOW } }]);
  });

  it.each<[NotificationChannel, string]>([
    ['email', 'marie.dupont@example.fr'],
    ['sms', '+33612345678'],
    ['push', 'fcm:dGhpcyBpcyBhIHRva2Vu'],
    ['push', '{"endpoint":"https://push.example.com/abc","keys":{"p256dh":"x","auth":"y"}}'],
  ])('accepts a %s recipient %s', (channel, recipient) => {
    given(decider)
      .when(requestIt({ ...request, channel, recipient }))
      .then([requested({ channel, recipient })]);
  });

  it.each<[NotificationChannel, string]>([
    ['email', 'marie.dupont@'],
    ['email', '+33612345678'],
    ['sms', '0612345678'],
    ['sms', '+33 6 12 34 56 78'],
    ['sms', 'marie.dupont@example.fr'],
    ['push', '   '],
    ['push', 'x'.repeat(8_193)],
  ])('refuses a %s recipient %j', (channel, recipient) => {
    given(decider)
      .when(requestIt({ ...request, channel, recipient }))
      .thenThrows('invalid_recipient', [{ path: 'recipient' }]);
  });

  it('explains what a recipient must be, per channel', () => {
    expect(recipientProblem('sms', '0612345678')).toMatch(/E\.164/);
    expect(recipientProblem('email', 'nope')).toMatch(/email/);
    expect(recipientProblem('push', '')).toMatch(/push/);
  });

  it('refuses a notification that already exists', () => {
    given(decider, history.pending).when(requestIt()).thenThrows('notification_already_exists');
  });
});

describe('a notification that does not exist', () => {
  it.each<NotificationCommand>([recordSent(), recordDelivered(), recordFailed(), recordOpened(), recordClicked(), skip()])(
    'cannot take $type',
    (command) => {
      given(decider).when(command).thenThrows('notification_not_found');
    },
  );
});

describe('RecordNotificationSent', () => {
  it('marks a pending notification sent, with the provider and its message id', () => {
    given(decider, history.pending).when(recordSent()).then([sent]);
    expect(stateOf(history.sent)).toMatchObject({
      status: 'sent',
      provider: 'sendgrid',
      provider_message_id: MESSAGE_ID,
      sent_at: SENT_AT,
    });
  });

  it.each(['sent', 'delivered', 'bounced'] as const)('records nothing when the same message is reported again (%s)', (state) => {
    given(decider, history[state]).when(recordSent()).then([]);
  });

  it('refuses another message for a notification already sent', () => {
    given(decider, history.sent)
      .when(recordSent('sg_msg_0002'))
      .thenThrows('notification_already_sent', [{ path: 'provider_message_id' }]);
  });

  it.each(['sendFailed', 'skipped'] as const)('cannot send a notification that failed or was skipped before sending (%s)', (state) => {
    given(decider, history[state]).when(recordSent()).thenThrows('invalid_transition', [{ path: 'status' }]);
  });
});

describe('RecordNotificationDelivered', () => {
  it('marks a sent notification delivered, at the time the provider gives', () => {
    given(decider, history.sent).when(recordDelivered(MESSAGE_ID, '2025-04-20T10:00:05Z')).then([delivered('2025-04-20T10:00:05Z')]);
    expect(stateOf(history.delivered)).toMatchObject({ status: 'delivered', delivered_at: LATER });
  });

  it('uses now when the provider gives no time', () => {
    given(decider, history.sent).when(recordDelivered()).then([delivered(LATER)]);
  });

  it('records nothing when the delivery is reported again', () => {
    given(decider, history.delivered).when(recordDelivered()).then([]);
  });

  it('refuses a report for another provider message', () => {
    given(decider, history.sent)
      .when(recordDelivered('sg_msg_other'))
      .thenThrows('provider_message_mismatch', [{ path: 'provider_message_id', message: `expected ${MESSAGE_ID}` }]);
  });

  it.each(['pending', 'bounced', 'sendFailed', 'skipped'] as const)('cannot deliver a %s notification', (state) => {
    given(decider, history[state]).when(recordDelivered()).thenThrows('invalid_transition');
  });
});

describe('RecordNotificationFailed', () => {
  it('fails a pending notification the provider refused: send_failed, no message id', () => {
    given(decider, history.pending)
      .when(recordFailed({ error_class: 'validation', message: 'invalid from address' }))
      .then([sendFailed]);
    expect(stateOf(history.sendFailed)).toMatchObject({ status: 'failed', failure: { reason: 'send_failed', error_class: 'validation' } });
  });

  it('fails a sent notification that bounced: delivery_failed, with its message id', () => {
    given(decider, history.sent).when(recordFailed()).then([bounced]);
    given(decider, history.sent).when(recordFailed({ provider_message_id: MESSAGE_ID })).then([bounced]);
    expect(stateOf(history.bounced)).toMatchObject({ status: 'failed', sent_at: SENT_AT, failure: { reason: 'delivery_failed' } });
  });

  it('refuses a bounce for another provider message', () => {
    given(decider, history.sent)
      .when(recordFailed({ provider_message_id: 'sg_msg_other' }))
      .thenThrows('provider_message_mismatch');
  });

  it('cuts a long message', () => {
    const [event] = given(decider, history.sent)
      .when(recordFailed({ message: 'y'.repeat(10_000) }))
      .then([{ ...bounced, data: { ...bounced.data, message: `${'y'.repeat(MAX_NOTIFICATION_ERROR_LENGTH - 1)}…` } } as NotificationEvent]);
    expect(event?.type === 'NotificationFailed' && 'message' in event.data && event.data.message).toHaveLength(
      MAX_NOTIFICATION_ERROR_LENGTH,
    );
  });

  it.each(['sendFailed', 'bounced'] as const)('records nothing once the notification has failed (%s): the first failure stands', (state) => {
    given(decider, history[state]).when(recordFailed({ error_class: 'transient' })).then([]);
  });

  it('cannot fail a skipped notification: skipped is final', () => {
    given(decider, history.skipped).when(recordFailed({ error_class: 'transient' })).thenThrows('invalid_transition', [{ path: 'status' }]);
  });

  it('cannot fail a delivered notification', () => {
    given(decider, history.delivered).when(recordFailed()).thenThrows('invalid_transition', [{ path: 'status' }]);
  });
});

describe('RecordNotificationOpened', () => {
  it('records the first open of a sent notification, without changing its status', () => {
    given(decider, history.sent).when(recordOpened()).then([opened(true)]);
    expect(stateOf([...history.sent, opened(true)])).toMatchObject({ status: 'sent', first_opened_at: LATER, open_count: 1 });
  });

  it('records an open of a delivered notification, which stays delivered', () => {
    given(decider, history.delivered).when(recordOpened(MESSAGE_ID, '2025-04-20T10:30:00Z')).then([opened(true, '2025-04-20T10:30:00Z')]);
    expect(stateOf([...history.delivered, opened(true)]).status).toBe('delivered');
  });

  it('records later opens too, not as first: they are counted but the first open time stays', () => {
    const events = [...history.delivered, opened(true, '2025-04-20T10:30:00.000Z')];
    given(decider, events).when(recordOpened()).then([opened(false)]);
    expect(stateOf([...events, opened(false)])).toMatchObject({
      first_opened_at: '2025-04-20T10:30:00.000Z',
      open_count: 2,
      status: 'delivered',
    });
  });

  it.each(['pending', 'sendFailed', 'bounced', 'skipped'] as const)('is refused for a %s notification', (state) => {
    given(decider, history[state]).when(recordOpened()).thenThrows('interaction_not_allowed', [{ path: 'status' }]);
  });

  it('refuses an open of another provider message', () => {
    given(decider, history.sent).when(recordOpened('sg_msg_other')).thenThrows('provider_message_mismatch');
  });
});

describe('RecordNotificationClicked', () => {
  it('records the first click, without changing the status', () => {
    given(decider, history.delivered).when(recordClicked()).then([clicked(true)]);
    expect(stateOf([...history.delivered, clicked(true)])).toMatchObject({
      status: 'delivered',
      first_clicked_at: LATER,
      click_count: 1,
    });
  });

  it('does not count a click as an open', () => {
    expect(stateOf([...history.sent, clicked(true)])).toMatchObject({ first_opened_at: null, open_count: 0, click_count: 1 });
    given(decider, [...history.sent, clicked(true)]).when(recordOpened()).then([opened(true)]);
  });

  it('records later clicks, not as first', () => {
    const events = [...history.sent, opened(true), clicked(true, SENT_AT)];
    given(decider, events).when(recordClicked()).then([clicked(false)]);
    expect(stateOf([...events, clicked(false)])).toMatchObject({ first_clicked_at: SENT_AT, click_count: 2, status: 'sent' });
  });

  it.each(['pending', 'sendFailed', 'bounced', 'skipped'] as const)('is refused for a %s notification', (state) => {
    given(decider, history[state]).when(recordClicked()).thenThrows('interaction_not_allowed');
  });

  it('refuses a click on another provider message', () => {
    given(decider, history.delivered).when(recordClicked('sg_msg_other')).thenThrows('provider_message_mismatch');
  });
});

describe('SkipNotification', () => {
  it.each(notificationSkipReasons)('skips a pending notification: final status skipped (%s)', (reason) => {
    given(decider, history.pending)
      .when(skip(reason, `because ${reason}`))
      .then([skipped(reason, `because ${reason}`)]);
    expect(stateOf([...history.pending, skipped(reason, 'why')])).toMatchObject({
      status: 'skipped',
      failure: null,
      sent_at: null,
      skip: { reason, detail: 'why', skipped_at: NOW },
    });
  });

  it('records an empty detail when none is given, and cuts a long one', () => {
    given(decider, history.pending).when({ ...skip('suppressed'), detail: undefined } as NotificationCommand).then([skipped('suppressed', '')]);
    given(decider, history.pending)
      .when(skip('opted_out', 'z'.repeat(10_000)))
      .then([skipped('opted_out', `${'z'.repeat(MAX_NOTIFICATION_ERROR_LENGTH - 1)}…`)]);
  });

  it('records nothing when skipped again, whatever the reason: the first decision stands', () => {
    given(decider, history.skipped).when(skip()).then([]);
    given(decider, history.skipped).when(skip('opted_out', 'replied STOP')).then([]);
  });

  it.each(['sent', 'delivered'] as const)('is too late once the notification was sent (%s)', (state) => {
    given(decider, history[state]).when(skip()).thenThrows('notification_already_sent', [{ path: 'status', message: `is ${state}` }]);
  });

  it.each(['sendFailed', 'bounced'] as const)('cannot skip a notification that has failed (%s)', (state) => {
    given(decider, history[state]).when(skip()).thenThrows('invalid_transition', [{ path: 'status' }]);
  });
});

describe('CancelNotification', () => {
  const cancel = (reason?: string): NotificationCommand => ({ type: 'CancelNotification', notification_id, reason, now: LATER });
  const canceled = (reason = 'campaign canceled'): NotificationEvent => ({ type: 'NotificationCanceled', data: { notification_id, reason, canceled_at: LATER } });

  it('cancels a pending notification: final status canceled, nothing sent', () => {
    given(decider, history.pending).when(cancel('campaign canceled')).then([canceled()]);
    given(decider, history.pending).when(cancel()).then([canceled('')]);
    expect(stateOf([...history.pending, canceled()])).toMatchObject({ status: 'canceled', sent_at: null, provider_message_id: null });
  });

  it('records nothing when canceled again, and a skip after the cancellation changes nothing', () => {
    given(decider, [...history.pending, canceled()]).when(cancel('again')).then([]);
    given(decider, [...history.pending, canceled()]).when(skip()).then([]);
  });

  it.each(['sent', 'delivered', 'sendFailed', 'skipped'] as const)('cannot cancel a notification that is %s', (state) => {
    given(decider, history[state]).when(cancel()).thenThrows('invalid_transition', [{ path: 'status' }]);
  });

  it('still records a send that was under way when the cancellation came: the message did leave', () => {
    given(decider, [...history.pending, canceled()]).when(recordSent()).then([sent]);
    expect(stateOf([...history.pending, canceled(), sent])).toMatchObject({ status: 'sent', provider_message_id: MESSAGE_ID });
  });
});

describe('notification events', () => {
  it('every event the decider emits parses with its catalogue schema', () => {
    const journey = run(notificationDecider, [requestIt(), recordSent(), recordDelivered(), recordOpened(), recordClicked()]);
    const skippedJourney = run(notificationDecider, [requestIt(), skip()]);
    const bouncedJourney = run(notificationDecider, [requestIt(), recordSent(), recordFailed()]);
    const canceledJourney = run(notificationDecider, [requestIt(), { type: 'CancelNotification', notification_id, reason: 'campaign canceled', now: LATER }]);
    const all = [...journey, ...skippedJourney, ...bouncedJourney, ...canceledJourney, ...decider.emitted];
    expect(new Set(all.map((e) => e.type))).toEqual(new Set(Object.keys(notificationEvents)));
    expect(new Set(all.flatMap((e) => (e.type === 'NotificationFailed' ? [e.data.reason] : [])))).toEqual(
      new Set(['send_failed', 'delivery_failed']),
    );
    expect(new Set(all.flatMap((e) => (e.type === 'NotificationSkipped' ? [e.data.reason] : [])))).toEqual(
      new Set(notificationSkipReasons),
    );
    expectConformToCatalogue(notificationEvents, all);
  });
});

describe('random command sequences', () => {
  const kinds = ['sent', 'sent', 'delivered', 'delivered', 'failed', 'opened', 'opened', 'clicked', 'skip', 'cancel'] as const;
  // canceled ranks with pending: a send under way when the cancellation came still moves it on to sent.
  const order = { none: 0, pending: 1, canceled: 1, sent: 2, delivered: 3, failed: 3, skipped: 3 } as const;

  it.each([1, 2, 3, 4])('keep the invariants (seed %i, 100 notifications)', (seed) => {
    const random = randomGenerator(seed);
    const next = (state: NotificationState): NotificationCommand => {
      if (state.status === 'none') return requestIt();
      const id = random.pick([MESSAGE_ID, MESSAGE_ID, MESSAGE_ID, 'sg_msg_other']);
      switch (random.pick(kinds)) {
        case 'sent':
          return recordSent(id);
        case 'delivered':
          return recordDelivered(id);
        case 'failed':
          return recordFailed({ error_class: random.pick(notificationErrorClasses), provider_message_id: random.int(2) ? id : undefined });
        case 'opened':
          return recordOpened(id);
        case 'clicked':
          return recordClicked(id);
        case 'skip':
          return skip(random.pick(notificationSkipReasons));
        case 'cancel':
          return { type: 'CancelNotification', notification_id, reason: 'campaign canceled', now: LATER };
      }
    };
    const check = (before: NotificationState, after: NotificationState): void => {
      expect(order[after.status]).toBeGreaterThanOrEqual(order[before.status]);
      if (before.status === 'delivered' || before.status === 'failed' || before.status === 'skipped') expect(after.status).toBe(before.status);
      if (after.status === 'none') return;
      // Skipped means never sent: no provider message, no interaction.
      if (after.status === 'skipped') expect([after.sent_at, after.provider_message_id, after.open_count]).toEqual([null, null, 0]);
      if (after.open_count > 0 || after.click_count > 0) expect(after.sent_at).not.toBeNull();
      if (after.status === 'sent' || after.status === 'delivered') expect(after.provider_message_id).not.toBeNull();
      // The provider's message id, once known, never changes.
      if (before.status !== 'none' && before.provider_message_id !== null) {
        expect(after.provider_message_id).toBe(before.provider_message_id);
      }
    };
    const events = Array.from({ length: 100 }, () => randomWalk(notificationDecider, next, 30, check)).flat();
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(Object.keys(notificationEvents)));
    expectConformToCatalogue(notificationEvents, events);
  });
});
