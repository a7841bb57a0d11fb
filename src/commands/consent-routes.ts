import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  activeSuppressions,
  consentDecider,
  consentEvents,
  consentSourceSchema,
  consentStreamId,
  normalizeRecipient,
  suppressionReasons,
  type ConsentCommand,
  type ConsentEvent,
  type ConsentState,
} from '../domain/consent.js';
import { MAX_PUSH_TOKEN_LENGTH, notificationChannels, recipientProblem, type NotificationChannel } from '../domain/notification.js';
import { formatPosition, type EventStore } from '../infrastructure/event-store/event-store.js';
import { ApiError } from '../infrastructure/http/api-error.js';
import { errorResponses, errorSchema } from '../infrastructure/http/error-schemas.js';
import { verifyUnsubscribeToken } from '../platforms/notifications/compliance/unsubscribe-token.js';
import { CommandHandler, type HandleResult } from './command-handler.js';
import { commandContext } from './request-context.js';

/**
 * Consent and suppression commands (see domain/consent.ts), and the public unsubscribe link of marketing messages:
 *
 * - POST /api/communication/consents                   {recipient, channel, granted, source}   notifications:send
 * - POST /api/communication/suppressions               {recipient, channel, reason, source}    notifications:send
 * - POST /api/communication/suppressions/release       {recipient, channel, reason, source}    notifications:send
 * - GET  /api/communication/unsubscribe/:token         a confirmation page that posts back     public
 * - POST /api/communication/unsubscribe/:token         RFC 8058 one-click unsubscribe          public (the token is
 *                                                       the credential)
 *
 * Commands answer 202 with the resulting state, the stream revision and the position to pass as min_position to
 * GET /api/communication/consents. Recording what is already recorded changes nothing (changed: false, position null).
 */

/** The `source` recorded for unsubscribes made through the link. */
export const UNSUBSCRIBE_LINK_SOURCE = 'unsubscribe_link';

const subjectFields = {
  recipient: z.string().trim().min(1).max(MAX_PUSH_TOKEN_LENGTH).describe('An email address, an E.164 phone number or a push subscription'),
  channel: z.enum(notificationChannels),
  source: consentSourceSchema.describe("Where it comes from: 'crm', 'website_form', 'in_restaurant', 'sendgrid'…"),
};

function withValidRecipient<T extends z.ZodType<{ recipient: string; channel: NotificationChannel }>>(schema: T): T {
  return schema.superRefine((body, ctx) => {
    const problem = recipientProblem(body.channel, body.recipient);
    if (problem) ctx.addIssue({ code: 'custom', path: ['recipient'], message: problem });
  }) as unknown as T;
}

const consentBody = withValidRecipient(z.strictObject({ ...subjectFields, granted: z.boolean() }));
const suppressionBody = withValidRecipient(z.strictObject({ ...subjectFields, reason: z.enum(suppressionReasons) }));

const resultSchema = z.object({
  recipient: z.string().describe('Normalized: trimmed, lower-cased'),
  channel: z.enum(notificationChannels),
  granted: z.boolean().nullable().describe('null: never recorded'),
  suppressed: z.boolean(),
  suppression_reasons: z.array(z.enum(suppressionReasons)).describe('Active suppressions, most restrictive first'),
  changed: z.boolean().describe('false when this was already the recorded state'),
  revision: z.number().int(),
  position: z.string().nullable().describe('Pass as min_position to GET /api/communication/consents to read your own write'),
});

const tokenParams = z.object({ token: z.string().min(1).max(200) });

export function registerConsentCommandRoutes(app: FastifyInstance, store: EventStore, unsubscribeSecret: string): void {
  const handler = new CommandHandler<ConsentCommand, ConsentEvent, ConsentState>(store, consentDecider, consentEvents);
  const server = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['consents'];
  const headers = z.object({ 'idempotency-key': z.string().optional() });

  const run = async (request: FastifyRequest, command: ConsentCommand, now: Date) =>
    handler.handle(consentStreamId(command.recipient, command.channel), command, commandContext(request, now));

  const respond = (reply: FastifyReply, command: ConsentCommand, result: HandleResult<ConsentState>) => {
    const position = result.position ? formatPosition(result.position) : null;
    if (position) reply.header('x-position', position);
    const suppressions = activeSuppressions(result.state);
    return reply.status(202).send({
      recipient: normalizeRecipient(command.recipient),
      channel: command.channel,
      granted: result.state.consent?.granted ?? null,
      suppressed: suppressions.length > 0,
      suppression_reasons: suppressions,
      changed: result.appended > 0,
      revision: result.revision,
      position,
    });
  };

  server.post(
    '/api/communication/consents',
    {
      config: { scope: 'notifications:send' },
      schema: {
        tags,
        summary: 'Record that a recipient gave or withdrew consent to marketing messages on a channel',
        headers,
        body: consentBody,
        response: { 202: resultSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const now = new Date();
      const command: ConsentCommand = { type: 'RecordConsent', ...request.body, now: now.toISOString() };
      return respond(reply, command, await run(request, command, now));
    },
  );

  server.post(
    '/api/communication/suppressions',
    {
      config: { scope: 'notifications:send' },
      schema: {
        tags,
        summary: 'Suppress a recipient: hard_bounce and spam_report block every message; unsubscribe and stop block marketing and withdraw consent',
        headers,
        body: suppressionBody,
        response: { 202: resultSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const now = new Date();
      const command: ConsentCommand = { type: 'SuppressRecipient', ...request.body, now: now.toISOString() };
      return respond(reply, command, await run(request, command, now));
    },
  );

  server.post(
    '/api/communication/suppressions/release',
    {
      config: { scope: 'notifications:send' },
      schema: {
        tags,
        summary: 'Lift one suppression reason (e.g. the address works again, or the person subscribed again)',
        headers,
        body: suppressionBody,
        response: { 202: resultSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const now = new Date();
      const command: ConsentCommand = { type: 'ReleaseSuppression', ...request.body, now: now.toISOString() };
      return respond(reply, command, await run(request, command, now));
    },
  );

  // The unsubscribe link: public, in its own context so that the form bodies mail clients and browsers post
  // (application/x-www-form-urlencoded, multipart/form-data, or nothing) are accepted here and only here.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 4_096 }, (_request, body, done) => done(null, body));
    const link = scope.withTypeProvider<ZodTypeProvider>();
    const path = '/api/communication/unsubscribe/:token';

    link.get(
      path,
      {
        config: { public: true },
        schema: {
          tags,
          summary: 'Unsubscribe page: asks for confirmation and posts back (RFC 8058: a GET never unsubscribes)',
          params: tokenParams,
          security: [],
        },
      },
      async (request, reply) => {
        const target = verifyUnsubscribeToken(unsubscribeSecret, request.params.token);
        htmlHeaders(reply);
        if (!target) return reply.status(400).send(page(invalidLinkText));
        return reply.status(200).send(page(confirmText(target.channel)));
      },
    );

    link.post(
      path,
      {
        config: { public: true },
        schema: {
          tags,
          summary: 'One-click unsubscribe (RFC 8058, body List-Unsubscribe=One-Click): suppresses marketing and withdraws consent',
          params: tokenParams,
          security: [],
          response: {
            200: z.object({ status: z.literal('unsubscribed'), channel: z.enum(notificationChannels), position: z.string().nullable() }),
            400: errorSchema,
          },
        },
      },
      async (request, reply) => {
        const target = verifyUnsubscribeToken(unsubscribeSecret, request.params.token);
        const wantsHtml = /text\/html/i.test(request.headers.accept ?? '');
        if (!target) {
          if (wantsHtml) return htmlHeaders(reply).status(400).send(page(invalidLinkText));
          throw new ApiError('invalid_unsubscribe_token', 'This unsubscribe link is not valid', [{ path: 'params.token', message: 'invalid' }], 400);
        }
        const now = new Date();
        const command: ConsentCommand = {
          type: 'SuppressRecipient',
          recipient: target.recipient,
          channel: target.channel,
          reason: 'unsubscribe',
          source: UNSUBSCRIBE_LINK_SOURCE,
          now: now.toISOString(),
        };
        const result = await run(request, command, now);
        const position = result.position ? formatPosition(result.position) : null;
        if (wantsHtml) return htmlHeaders(reply).status(200).send(page(doneText(target.channel)));
        if (position) reply.header('x-position', position);
        return reply.status(200).send({ status: 'unsubscribed' as const, channel: target.channel, position });
      },
    );
  });
}

// ---- the page -----------------------------------------------------------------------------------------------------

const channelNames: Record<NotificationChannel, string> = { email: 'e-mails', sms: 'SMS', push: 'notifications' };

const invalidLinkText = `<h1>Lien non valide</h1>
<p>Ce lien de désinscription n'est pas valide. Vous pouvez répondre à notre message ou nous appeler pour ne plus recevoir nos offres.</p>`;

function confirmText(channel: NotificationChannel): string {
  return `<h1>Se désinscrire</h1>
<p>Vous ne recevrez plus les offres et actualités du Vieux Moulin par ${channelNames[channel]}. Les messages liés à vos réservations continueront de vous parvenir.</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Confirmer la désinscription</button></form>`;
}

function doneText(channel: NotificationChannel): string {
  return `<h1>C'est fait</h1>
<p>Vous êtes désinscrit(e) : vous ne recevrez plus nos offres par ${channelNames[channel]}.</p>`;
}

function page(body: string): string {
  return `<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">
<title>Le Vieux Moulin — désinscription</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5}button{font-size:1rem;padding:.6rem 1.2rem}</style>
</head><body>${body}</body></html>`;
}

/** The token is in the URL: no referrer, no caching, no indexing; the page loads nothing from elsewhere. */
function htmlHeaders(reply: FastifyReply): FastifyReply {
  return reply.headers({
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-robots-tag': 'noindex',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  });
}
