import { randomUUID } from 'node:crypto';
import { campaignFieldsSchema } from '../../../src/domain/campaign.js';
import { formatPosition, type EventStore, type Position } from '../../../src/infrastructure/event-store/event-store.js';

/** Appends events as the deciders would have recorded them (metadata included), one append per stream. */
export function historyWriter(store: EventStore) {
  let last: Position | null = null;
  const append = async (streamId: string, events: { type: string; data: Record<string, unknown>; at: string }[]) => {
    const result = await store.append(
      streamId,
      events.map((e) => ({ id: randomUUID(), type: e.type, data: e.data, metadata: { timestamp: e.at, schema_version: 1, actor: 'test' } })),
      { expectedRevision: 'any' },
    );
    last = result.position;
    return result;
  };
  return {
    append,
    position: () => (last ? formatPosition(last) : null),

    campaign: (campaign_id: string, fields: { budget?: number; success_metrics?: Record<string, unknown> } = {}) =>
      append(`campaign-${campaign_id}`, [
        {
          type: 'CampaignCreated',
          at: '2025-06-01T08:00:00.000Z',
          data: {
            campaign_id,
            ...campaignFieldsSchema.parse({ name: 'Semaine de la pizza', start_date: '2025-06-10T08:00:00Z', end_date: '2025-06-20T20:00:00Z', ...fields }),
          },
        },
      ]),

    campaignUpdated: (campaign_id: string, changes: Record<string, unknown>) =>
      append(`campaign-${campaign_id}`, [{ type: 'CampaignUpdated', at: '2025-06-02T08:00:00.000Z', data: { campaign_id, changes } }]),

    /**
     * One notification's life. steps: sent, delivered, bounced, failed (refused before sending), skipped, opened,
     * opened_again, clicked.
     */
    notification: (
      notification: { id?: string; campaign_id?: string | null; channel?: 'email' | 'sms' | 'push'; provider?: string; at: string },
      steps: ('sent' | 'delivered' | 'bounced' | 'failed' | 'skipped' | 'opened' | 'opened_again' | 'clicked')[],
    ) => {
      const notification_id = notification.id ?? randomUUID();
      const channel = notification.channel ?? 'email';
      const provider = notification.provider ?? 'sendgrid';
      const provider_message_id = `msg-${notification_id}`;
      const at = notification.at;
      const later = (minutes: number) => new Date(Date.parse(at) + minutes * 60_000).toISOString();
      const recipient = channel === 'sms' ? '+33612345678' : 'marie.dupont@example.fr';
      const events: { type: string; data: Record<string, unknown>; at: string }[] = [
        {
          type: 'NotificationRequested',
          at,
          data: { notification_id, template_id: 'promotional_email', recipient, channel, data: {}, campaign_id: notification.campaign_id ?? null, requested_at: at },
        },
      ];
      for (const step of steps) {
        switch (step) {
          case 'sent':
            events.push({ type: 'NotificationSent', at: later(1), data: { notification_id, provider, provider_message_id, sent_at: later(1) } });
            break;
          case 'delivered':
            events.push({ type: 'NotificationDelivered', at: later(2), data: { notification_id, provider_message_id, delivered_at: later(2) } });
            break;
          case 'bounced':
            events.push({
              type: 'NotificationFailed',
              at: later(2),
              data: { notification_id, reason: 'delivery_failed', error_class: 'bounced', message: 'bounced', provider, provider_message_id, failed_at: later(2) },
            });
            break;
          case 'failed':
            events.push({
              type: 'NotificationFailed',
              at: later(1),
              data: { notification_id, reason: 'send_failed', error_class: 'permanent', message: 'refused', provider, provider_message_id: null, failed_at: later(1) },
            });
            break;
          case 'skipped':
            events.push({ type: 'NotificationSkipped', at: later(1), data: { notification_id, reason: 'no_consent', detail: '', skipped_at: later(1) } });
            break;
          case 'opened':
          case 'opened_again':
            events.push({
              type: 'NotificationOpened',
              at: later(30),
              data: { notification_id, provider_message_id, opened_at: later(30), first_open: step === 'opened' },
            });
            break;
          case 'clicked':
            events.push({
              type: 'NotificationClicked',
              at: later(31),
              data: { notification_id, provider_message_id, url: 'https://levieuxmoulin.fr/reserver?utm_campaign=x', clicked_at: later(31), first_click: true },
            });
            break;
        }
      }
      return append(`notification-${notification_id}`, events).then(() => notification_id);
    },
  };
}
