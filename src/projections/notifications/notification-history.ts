import { occurredAt, type EventStore, type RecordedEvent } from '../../infrastructure/event-store/event-store.js';
import { ERASED_NOTIFICATION_RECIPIENT } from './notifications-projection.js';

export interface NotificationHistoryEntry {
  type: string;
  at: string;
  details: Record<string, unknown>;
}

/**
 * A notification's history, read from its stream: the stream is the history, so the read model keeps no copy of it
 * (a row per event, written for every notification and read for a few). The history stops at the revision the read
 * model's row reflects, so that it never shows a step the status does not show yet; once the address was erased
 * (GDPR), the request's details no longer name it.
 */
export async function readNotificationHistory(
  store: Pick<EventStore, 'readStream'>,
  streamId: string,
  row: { revision: number; recipient: string },
): Promise<NotificationHistoryEntry[]> {
  const events = await store.readStream(streamId, { maxCount: row.revision + 1 });
  const erased = row.recipient === ERASED_NOTIFICATION_RECIPIENT;
  return events.map((event) => historyEntry(event, erased));
}

/** What the history shows of an event: its data without the notification id and the template variables. */
function historyEntry(event: RecordedEvent, erased: boolean): NotificationHistoryEntry {
  const { notification_id: _id, data: _data, ...details } = (event.data ?? {}) as Record<string, unknown>;
  if (erased && event.type === 'NotificationRequested') delete details.recipient;
  return { type: event.type, at: occurredAt(event).toISOString(), details };
}
