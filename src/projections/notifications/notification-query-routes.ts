import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { notificationChannels, notificationStatuses } from '../../domain/notification.js';
import { notificationStreamId } from '../../commands/notification-routes.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import type { EventStore } from '../../infrastructure/event-store/event-store.js';
import { ApiError } from '../../infrastructure/http/api-error.js';
import { errorResponses } from '../../infrastructure/http/error-schemas.js';
import { consistencyQuery, ensureReadPosition } from '../consistency.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import type { ReadPositions } from '../read-positions.js';
import { readNotificationHistory } from './notification-history.js';
import type { NotificationsTable } from './notifications-table.js';

const base = '/api/communication/notifications';

const notificationViewSchema = z.object({
  id: z.uuid(),
  template_id: z.string(),
  recipient: z.string(),
  channel: z.enum(notificationChannels),
  status: z.enum(notificationStatuses),
  campaign_id: z.string().nullable(),
  provider: z.string().nullable(),
  provider_message_id: z.string().nullable(),
  requested_at: z.string(),
  sent_at: z.string().nullable(),
  delivered_at: z.string().nullable(),
  failure: z.record(z.string(), z.unknown()).nullable(),
  open_count: z.number().int(),
  click_count: z.number().int(),
  first_opened_at: z.string().nullable(),
  first_clicked_at: z.string().nullable(),
  revision: z.number().int(),
});
type NotificationView = z.infer<typeof notificationViewSchema>;

const historySchema = z.array(z.object({ type: z.string(), at: z.string(), details: z.record(z.string(), z.unknown()) }));

const listQuery = z
  .object({
    status: z.enum(notificationStatuses).optional(),
    channel: z.enum(notificationChannels).optional(),
    template_id: z.string().max(200).optional(),
    campaign_id: z.uuid().optional(),
    from: z.iso.datetime({ offset: true }).optional().describe('Requested at or after'),
    to: z.iso.datetime({ offset: true }).optional().describe('Requested before'),
    limit: z.coerce.number().int().min(1).max(500).default(100),
    cursor: z.string().max(200).optional(),
    ...consistencyQuery,
  })
  .refine((q) => !q.from || !q.to || Date.parse(q.from) < Date.parse(q.to), { path: ['to'], message: 'must be after from' });

export function registerNotificationQueryRoutes(app: FastifyInstance, db: SharedDatabase, positions: ReadPositions, store: Pick<EventStore, 'readStream'>): void {
  const server = app.withTypeProvider<ZodTypeProvider>();
  const read = db as Kysely<NotificationsTable>;
  const tags = ['notifications'];

  server.get(
    base,
    {
      config: { scope: 'notifications:read' },
      schema: {
        tags,
        summary: 'Notifications, newest first, filtered by status, channel, template, campaign and period',
        querystring: listQuery,
        response: {
          200: z.object({ notifications: z.array(notificationViewSchema), next_cursor: z.string().nullable(), position: z.string().nullable() }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const position = await ensureReadPosition(positions, 'notifications', request, reply, request.query);
      const q = request.query;
      let query = read.selectFrom('notifications').selectAll().orderBy('requested_at', 'desc').orderBy('id', 'desc').limit(q.limit + 1);
      if (q.status) query = query.where('status', '=', q.status);
      if (q.channel) query = query.where('channel', '=', q.channel);
      if (q.template_id) query = query.where('template_id', '=', q.template_id);
      if (q.campaign_id) query = query.where('campaign_id', '=', q.campaign_id);
      if (q.from) query = query.where('requested_at', '>=', new Date(q.from));
      if (q.to) query = query.where('requested_at', '<', new Date(q.to));
      if (q.cursor) {
        const after = decodeCursor(q.cursor);
        query = query.where((eb) =>
          eb.or([eb('requested_at', '<', after.at), eb.and([eb('requested_at', '=', after.at), eb('id', '<', after.id)])]),
        );
      }
      const rows = await query.execute();
      const page = rows.slice(0, q.limit);
      const last = page.at(-1);
      return {
        notifications: page.map(toView),
        next_cursor: rows.length > q.limit && last ? encodeCursor(last.requested_at, last.id) : null,
        position,
      };
    },
  );

  server.get(
    `${base}/:id`,
    {
      config: { scope: 'notifications:read' },
      schema: {
        tags,
        summary: 'One notification: its status and history',
        params: z.object({ id: z.uuid() }),
        querystring: z.object(consistencyQuery),
        response: { 200: notificationViewSchema.extend({ history: historySchema }), ...errorResponses },
      },
    },
    async (request, reply) => {
      await ensureReadPosition(positions, 'notifications', request, reply, request.query);
      const row = await read.selectFrom('notifications').selectAll().where('id', '=', request.params.id).executeTakeFirst();
      if (!row) throw new ApiError('notification_not_found', `Notification ${request.params.id} does not exist`, [], 404);
      return { ...toView(row), history: await readNotificationHistory(store, notificationStreamId(row.id), row) };
    },
  );
}

function toView(row: NotificationsTable['notifications']): NotificationView {
  const iso = (value: Date | null) => (value ? value.toISOString() : null);
  return {
    id: row.id,
    template_id: row.template_id,
    recipient: row.recipient,
    channel: row.channel as NotificationView['channel'],
    status: row.status as NotificationView['status'],
    campaign_id: row.campaign_id,
    provider: row.provider,
    provider_message_id: row.provider_message_id,
    requested_at: row.requested_at.toISOString(),
    sent_at: iso(row.sent_at),
    delivered_at: iso(row.delivered_at),
    failure: row.failure as Record<string, unknown> | null,
    open_count: row.open_count,
    click_count: row.click_count,
    first_opened_at: iso(row.first_opened_at),
    first_clicked_at: iso(row.first_clicked_at),
    revision: row.revision,
  };
}
