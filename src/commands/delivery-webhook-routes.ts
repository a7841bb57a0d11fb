import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { isDomainError } from '../domain/domain-error.js';
import { notificationDecider, notificationEvents, type NotificationCommand, type NotificationEvent, type NotificationState } from '../domain/notification.js';
import type { NotificationsConfig } from '../infrastructure/config/config-files.js';
import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import type { EventStore } from '../infrastructure/event-store/event-store.js';
import { ApiError } from '../infrastructure/http/api-error.js';
import type { Logger } from '../infrastructure/logging/logger.js';
import type { DeliveryEvent, InboundProvider, VerificationResult } from '../platforms/notifications/inbound/inbound-event.js';
import { isInboundPayloadError } from '../platforms/notifications/inbound/inbound-event.js';
import { parseMailjetEventBatch, verifyMailjetBasicAuth } from '../platforms/notifications/inbound/mailjet-events.js';
import { parseOvhReceipt } from '../platforms/notifications/inbound/ovh-receipts.js';
import { verifyCallbackToken } from '../platforms/notifications/inbound/inbound-event.js';
import { parseSendGridEventBatch, verifySendGridSignature } from '../platforms/notifications/inbound/sendgrid-events.js';
import { parseTwilioStatus, verifyTwilioSignature } from '../platforms/notifications/inbound/twilio-status.js';
import { providerEntries } from '../platforms/notifications/providers-from-config.js';
import type { NotificationsTable } from '../projections/notifications/notifications-table.js';
import { CommandHandler, type CommandContext } from './command-handler.js';
import { notificationStreamId } from './notification-routes.js';
import { RecipientSuppressor } from './recipient-suppressor.js';
import type { SuppressionReason } from '../domain/consent.js';

/**
 * POST /api/communication/webhooks/inbound/{provider}: delivery reports from the providers. No API key (providers
 * cannot send one): each request is verified on its raw body — SendGrid's ECDSA signature, Twilio's
 * X-Twilio-Signature, Mailjet's basic auth, a secret token in OVH's callback URL. Each report becomes a command on its
 * notification, with event ids derived from the provider's event id, so a redelivered report changes nothing.
 */
export interface InboundSecrets {
  sendgrid?: { publicKey: string };
  twilio?: { authToken: string };
  mailjet?: { username: string; password: string };
  ovh?: { token: string };
}

/** Where each provider's verification secret sits in notifications.json (primary or secondary entry). */
export function inboundSecretsFromConfig(config: NotificationsConfig): InboundSecrets {
  const entries = providerEntries(config);
  const of = (name: string) => entries.find((e) => e.provider === name);
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const secrets: InboundSecrets = {};
  const sendgrid = text(of('sendgrid')?.webhook_verification_key);
  if (sendgrid) secrets.sendgrid = { publicKey: sendgrid };
  const twilio = text(of('twilio')?.auth_token);
  if (twilio) secrets.twilio = { authToken: twilio };
  const mailjet = of('mailjet');
  if (text(mailjet?.webhook_username) && text(mailjet?.webhook_password)) {
    secrets.mailjet = { username: text(mailjet!.webhook_username)!, password: text(mailjet!.webhook_password)! };
  }
  const ovh = text(of('ovh')?.callback_token);
  if (ovh) secrets.ovh = { token: ovh };
  return secrets;
}

interface Dependencies {
  store: EventStore;
  db: SharedDatabase;
  secrets: InboundSecrets;
  /** COMM_PUBLIC_URL: Twilio signs the URL it called, as it knows it. */
  publicUrl: string;
  logger: Logger;
}

const outcomeSchema = z.object({ received: z.number().int(), applied: z.number().int(), ignored: z.number().int() });

export async function registerDeliveryWebhookRoutes(app: FastifyInstance, deps: Dependencies): Promise<void> {
  const handler = new CommandHandler<NotificationCommand, NotificationEvent, NotificationState>(deps.store, notificationDecider, notificationEvents);
  const read = deps.db as Kysely<NotificationsTable>;
  const suppressor = new RecipientSuppressor(deps.store);

  await app.register(async (scope) => {
    // Signatures cover the exact bytes received: keep the raw body, parse it here.
    scope.addContentTypeParser(['application/json', 'application/x-www-form-urlencoded'], { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    const server = scope.withTypeProvider<ZodTypeProvider>();
    for (const method of ['POST', 'GET'] as const) {
      server.route({
        method,
        url: '/api/communication/webhooks/inbound/:provider',
        config: { public: true },
        schema: {
          tags: ['notifications'],
          summary: 'Delivery reports from SendGrid, Mailjet, Twilio and OVH (verified by signature, not by API key)',
          params: z.object({ provider: z.enum(['sendgrid', 'mailjet', 'twilio', 'ovh']) }),
          response: { 200: outcomeSchema },
        },
        handler: async (request) => {
          const provider = request.params.provider;
          const events = readReports(provider, request, deps);
          let applied = 0;
          let notYetSent = 0;
          for (const event of events) {
            const outcome = await apply(event);
            if (outcome === 'applied') applied++;
            if (outcome === 'not_yet_sent') notYetSent++;
          }
          // A report that overtook our own "sent" record: ask the provider to deliver it again later.
          if (notYetSent > 0) throw new ApiError('service_unavailable', 'Some reports are for messages not yet recorded as sent; retry later', [], 503, { 'retry-after': '30' });
          return { received: events.length, applied, ignored: events.length - applied };
        },
      });
    }
  });

  async function apply(event: DeliveryEvent): Promise<'applied' | 'ignored' | 'not_yet_sent'> {
    const command = toCommand(event);
    const suppression = suppressionOf(event);
    if (!command && !suppression) return 'ignored';
    const notificationId = event.notificationId ?? (await findByProviderMessage(event));
    if (!notificationId) {
      deps.logger.info({ provider: event.provider, kind: event.kind }, 'delivery report for an unknown message ignored');
      return 'ignored';
    }
    const context: CommandContext = { correlationId: notificationId, causationId: event.providerEventId, actor: `provider:${event.provider}`, now: new Date() };
    if (suppression) {
      const { state } = await handler.load(notificationStreamId(notificationId));
      if (state.status !== 'none') {
        await suppressor.suppress(
          { recipient: state.recipient, channel: state.channel, reason: suppression, source: `${event.provider}_webhook` },
          context,
          `${event.provider}:${event.providerEventId}:suppress`,
        );
      }
      if (!command) return 'applied';
    }
    try {
      const result = await handler.handle(notificationStreamId(notificationId), { ...command!, notification_id: notificationId } as NotificationCommand, context, {
        eventIdSeed: `${event.provider}:${event.providerEventId}`,
      });
      return result.appended > 0 ? 'applied' : 'ignored';
    } catch (error) {
      if (!isDomainError(error)) throw error;
      if (error.code === 'invalid_transition' && (await statusOf(notificationId)) === 'pending') return 'not_yet_sent';
      deps.logger.info({ provider: event.provider, kind: event.kind, code: error.code }, 'delivery report not applicable');
      return 'ignored';
    }
  }

  async function findByProviderMessage(event: DeliveryEvent): Promise<string | undefined> {
    const row = await read
      .selectFrom('notifications')
      .select('id')
      .where('provider', '=', event.provider)
      .where('provider_message_id', '=', event.providerMessageId)
      .executeTakeFirst();
    return row?.id;
  }

  async function statusOf(notificationId: string): Promise<string | undefined> {
    const { state } = await handler.load(notificationStreamId(notificationId));
    return state.status === 'none' ? undefined : state.status;
  }
}

/** A command before it knows which notification it is for. */
type CommandWithoutId = NotificationCommand extends infer C ? (C extends unknown ? Omit<C, 'notification_id'> : never) : never;

function toCommand(event: DeliveryEvent): CommandWithoutId | null {
  const now = new Date().toISOString();
  const provider_message_id = event.providerMessageId;
  switch (event.kind) {
    case 'delivered':
      return { type: 'RecordNotificationDelivered', provider_message_id, delivered_at: event.occurredAt, now };
    case 'opened':
      return { type: 'RecordNotificationOpened', provider_message_id, opened_at: event.occurredAt, now };
    case 'clicked':
      return event.url ? { type: 'RecordNotificationClicked', provider_message_id, url: event.url, clicked_at: event.occurredAt, now } : null;
    case 'bounced':
      return { type: 'RecordNotificationFailed', error_class: 'bounced', message: event.reason ?? 'bounced', provider: event.provider, provider_message_id, now };
    case 'failed':
      return { type: 'RecordNotificationFailed', error_class: event.hard ? 'permanent' : 'transient', message: event.reason ?? 'failed', provider: event.provider, provider_message_id, now };
    default:
      // sent and deferred add nothing to what the worker recorded; spam reports and unsubscribes only go to the
      // suppression list (see suppressionOf).
      return null;
  }
}

/** Reports that say the recipient must not get more messages on this channel. */
function suppressionOf(event: DeliveryEvent): SuppressionReason | null {
  if (event.kind === 'spam') return 'spam_report';
  if (event.kind === 'unsubscribed') return 'unsubscribe';
  if (event.kind === 'bounced' && event.hard) return 'hard_bounce';
  return null;
}

function readReports(provider: InboundProvider, request: FastifyRequest, deps: Dependencies): DeliveryEvent[] {
  const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  const form = () => Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
  const query = request.query as Record<string, string>;
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const refuse = (result: VerificationResult) => {
    if (!result.ok) throw new ApiError('invalid_signature', `The ${provider} request could not be verified: ${result.reason}`, [], 401);
  };
  const secrets = deps.secrets;
  try {
    switch (provider) {
      case 'sendgrid': {
        if (!secrets.sendgrid) throw notConfigured(provider);
        refuse(
          verifySendGridSignature({
            publicKey: secrets.sendgrid.publicKey,
            signature: header('x-twilio-email-event-webhook-signature') ?? '',
            timestamp: header('x-twilio-email-event-webhook-timestamp') ?? '',
            rawBody: raw,
            toleranceSeconds: 600,
          }),
        );
        return parseSendGridEventBatch(raw).events;
      }
      case 'twilio': {
        if (!secrets.twilio) throw notConfigured(provider);
        const params = form();
        const url = `${deps.publicUrl.replace(/\/$/, '')}${request.url}`;
        refuse(verifyTwilioSignature({ authToken: secrets.twilio.authToken, url, params, signature: header('x-twilio-signature') ?? '' }));
        const event = parseTwilioStatus(params, { url });
        return event ? [event] : [];
      }
      case 'mailjet': {
        if (!secrets.mailjet) throw notConfigured(provider);
        refuse(verifyMailjetBasicAuth({ expectedUser: secrets.mailjet.username, expectedPassword: secrets.mailjet.password, authorizationHeader: header('authorization') ?? '' }));
        return parseMailjetEventBatch(raw).events;
      }
      case 'ovh': {
        if (!secrets.ovh) throw notConfigured(provider);
        const params = request.method === 'GET' ? query : { ...query, ...form() };
        refuse(verifyCallbackToken({ expected: secrets.ovh.token, given: params.token }));
        return [parseOvhReceipt(params, { secretParams: ['token'] })];
      }
    }
  } catch (error) {
    if (isInboundPayloadError(error)) {
      throw new ApiError('validation_failed', error.message, [{ path: `body.${error.field}`, message: error.message }]);
    }
    throw error;
  }
}

function notConfigured(provider: string): ApiError {
  return new ApiError('provider_not_configured', `No ${provider} webhook secret is configured in notifications.json`, [], 404);
}
