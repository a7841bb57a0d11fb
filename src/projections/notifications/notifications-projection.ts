import { sql, type Kysely } from 'kysely';
import { notificationDecider, type NotificationEvent, type NotificationState } from '../../domain/notification.js';
import { occurredAt, type RecordedEvent } from '../../infrastructure/event-store/event-store.js';
import type { Projection } from '../projection.js';
import { notificationsMigrations, type NotificationsTable } from './notifications-table.js';

type Row = NotificationsTable['notifications'];

/** What the recipient column shows once the address was erased (GDPR). */
export const ERASED_NOTIFICATION_RECIPIENT = '[erased]';

/**
 * Notifications read model: the current state of each notification, for the status and list routes (the history the
 * status route shows is the notification's stream: notification-history.ts). Batches are folded in memory and written
 * with one statement for the new rows and one for the changed ones.
 *
 * It follows the consent streams too, for one event: RecipientErased (a GDPR erasure) takes the address and the
 * template variables out of every notification sent to it. The erasure is an event, so a rebuild erases again.
 */
export const notificationsProjection: Projection = {
  name: 'notifications',
  filter: { categories: ['notification', 'consent'] },
  migrations: notificationsMigrations,

  async reset(trx) {
    const db = trx as Kysely<NotificationsTable>;
    await db.deleteFrom('notifications').execute();
  },

  async apply(events, trx) {
    const db = trx as Kysely<NotificationsTable>;
    // In order: the notifications recorded before an erasure are written before it applies.
    let run: RecordedEvent[] = [];
    for (const event of events) {
      if (event.streamId.startsWith('notification-')) {
        run.push(event);
      } else if (event.type === 'RecipientErased') {
        await applyNotificationEvents(run, db);
        run = [];
        await eraseRecipient(db, event.data as { recipient_hash: string; channel: string });
      }
    }
    await applyNotificationEvents(run, db);
  },
};

async function applyNotificationEvents(events: RecordedEvent[], db: Kysely<NotificationsTable>): Promise<void> {
  if (events.length === 0) return;
  const ids = [...new Set(events.map(notificationIdOf))];
  const existing = await loadRows(db, ids);
  const touched = new Map<string, Row>();
  for (const event of events) {
    const id = notificationIdOf(event);
    const row = applyEvent(touched.get(id) ?? existing.get(id), event);
    if (row) touched.set(id, row);
  }
  const created: Row[] = [];
  const changed: Row[] = [];
  for (const row of touched.values()) (existing.has(row.id) ? changed : created).push(row);
  for (let start = 0; start < created.length; start += 1_000) await insertRows(db, created.slice(start, start + 1_000));
  for (let start = 0; start < changed.length; start += 1_000) await updateRows(db, changed.slice(start, start + 1_000));
}

/**
 * The stored rows of a batch's notifications, without their template variables: an event after the request never
 * changes them, and updateRows leaves the column alone (it is the largest one, read and written back for nothing).
 */
async function loadRows(db: Kysely<NotificationsTable>, ids: string[]): Promise<Map<string, Row>> {
  const { rows } = await sql<Omit<Row, 'data'>>`
    SELECT id, template_id, recipient, channel, status, campaign_id, provider, provider_message_id, requested_at, sent_at,
           delivered_at, failure, open_count, click_count, first_opened_at, first_clicked_at, revision, updated_at
      FROM notifications WHERE id = ANY (${ids}::uuid[])`.execute(db);
  return new Map(rows.map((row) => [row.id, Object.assign(row, { data: NOT_LOADED })]));
}

/** Stands for template variables loadRows did not read. */
const NOT_LOADED = Object.freeze({});

/**
 * The address (matched by its hash, as recipientHash computes it) and the template variables leave every row; the
 * history route sees the erased address on the row and leaves it out of the request's details.
 */
async function eraseRecipient(db: Kysely<NotificationsTable>, erased: { recipient_hash: string; channel: string }): Promise<void> {
  await db
    .updateTable('notifications')
    .set({ recipient: ERASED_NOTIFICATION_RECIPIENT, data: JSON.stringify({}) })
    .where('channel', '=', erased.channel)
    .where('recipient', '<>', ERASED_NOTIFICATION_RECIPIENT)
    .where(sql<string>`encode(sha256(convert_to(lower(btrim(recipient)) || ':' || channel, 'UTF8')), 'hex')`, '=', erased.recipient_hash)
    .execute();
}

function notificationIdOf(event: RecordedEvent): string {
  return event.streamId.slice('notification-'.length);
}

function applyEvent(row: Row | undefined, event: RecordedEvent): Row | undefined {
  const state = notificationDecider.evolve(row ? toState(row) : notificationDecider.initialState(), event as unknown as NotificationEvent);
  if (state.status === 'none') return row;
  const at = occurredAt(event);
  const date = (value: string | null) => (value ? new Date(value) : null);
  return {
    id: state.notification_id,
    template_id: state.template_id,
    recipient: state.recipient,
    channel: state.channel,
    status: state.status,
    campaign_id: state.campaign_id,
    data: state.data,
    provider: state.provider,
    provider_message_id: state.provider_message_id,
    requested_at: new Date(state.requested_at),
    sent_at: date(state.sent_at),
    delivered_at: date(state.delivered_at),
    failure: state.failure,
    open_count: state.open_count,
    click_count: state.click_count,
    first_opened_at: date(state.first_opened_at),
    first_clicked_at: date(state.first_clicked_at),
    revision: event.revision,
    updated_at: at,
  };
}

function toState(row: Row): NotificationState {
  const iso = (value: Date | null) => (value ? value.toISOString() : null);
  return {
    status: row.status as Exclude<NotificationState['status'], 'none'>,
    notification_id: row.id,
    template_id: row.template_id,
    recipient: row.recipient,
    channel: row.channel as 'email' | 'sms' | 'push',
    data: row.data as Record<string, unknown>,
    campaign_id: row.campaign_id,
    requested_at: row.requested_at.toISOString(),
    provider: row.provider,
    provider_message_id: row.provider_message_id,
    sent_at: iso(row.sent_at),
    delivered_at: iso(row.delivered_at),
    failure: row.failure as never,
    first_opened_at: iso(row.first_opened_at),
    open_count: row.open_count,
    first_clicked_at: iso(row.first_clicked_at),
    click_count: row.click_count,
  };
}

/**
 * New rows: loadRows found none stored for them in this transaction (a stored row goes through updateRows). One
 * statement per thousand, the rows as one JSON parameter: a VALUES list of 19 parameters per row cost the projector
 * more to build and send than PostgreSQL spends applying it.
 */
async function insertRows(db: Kysely<NotificationsTable>, rows: Row[]): Promise<void> {
  await sql`
    INSERT INTO notifications (id, template_id, recipient, channel, status, campaign_id, data, provider, provider_message_id,
      requested_at, sent_at, delivered_at, failure, open_count, click_count, first_opened_at, first_clicked_at, revision, updated_at)
    SELECT r.id, r.template_id, r.recipient, r.channel, r.status, r.campaign_id, r.data, r.provider, r.provider_message_id,
      r.requested_at, r.sent_at, r.delivered_at, NULLIF(r.failure, 'null'::jsonb), r.open_count, r.click_count, r.first_opened_at,
      r.first_clicked_at, r.revision, r.updated_at
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(id uuid, template_id text, recipient text, channel text,
        status text, campaign_id uuid, data jsonb, provider text, provider_message_id text, requested_at timestamptz,
        sent_at timestamptz, delivered_at timestamptz, failure jsonb, open_count integer, click_count integer,
        first_opened_at timestamptz, first_clicked_at timestamptz, revision integer, updated_at timestamptz)`.execute(db);
}

/** Stored rows an event changed: only what an event after the request can change is sent, and written. */
async function updateRows(db: Kysely<NotificationsTable>, rows: Row[]): Promise<void> {
  // What the request set and nothing after it changes stays out of the parameter.
  const changes = rows.map(({ template_id: _t, recipient: _r, channel: _c, campaign_id: _k, data: _d, requested_at: _a, ...changed }) => changed);
  await sql`
    UPDATE notifications n SET
      status = r.status, provider = r.provider, provider_message_id = r.provider_message_id, sent_at = r.sent_at,
      delivered_at = r.delivered_at, failure = NULLIF(r.failure, 'null'::jsonb), open_count = r.open_count,
      click_count = r.click_count, first_opened_at = r.first_opened_at, first_clicked_at = r.first_clicked_at,
      revision = r.revision, updated_at = r.updated_at
      FROM jsonb_to_recordset(${JSON.stringify(changes)}::jsonb) AS r(id uuid, status text, provider text,
        provider_message_id text, sent_at timestamptz, delivered_at timestamptz, failure jsonb, open_count integer,
        click_count integer, first_opened_at timestamptz, first_clicked_at timestamptz, revision integer, updated_at timestamptz)
     WHERE n.id = r.id`.execute(db);
}
