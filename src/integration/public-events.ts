import type { z } from 'zod';
import { campaignEvents } from '../domain/campaign.js';
import { CampaignVariantWinnerChosen } from '../domain/campaign-experiment.js';
import { campaignPerformanceEvents } from '../domain/campaign-performance.js';
import { conversionEvents } from '../domain/conversion.js';
import { consentEvents } from '../domain/consent.js';
import { engagementEvents } from '../domain/engagement-events.js';
import type { EventDefinition } from '../domain/event-schema.js';
import { notificationEvents, type NotificationChannel } from '../domain/notification-events.js';
import { platformConnectionEvents } from '../domain/platform-connection.js';
import { publicationEvents } from '../domain/publication-events.js';
import { spendEvents } from '../domain/spend.js';
import { publicClickUrl } from './click-url.js';
import { recipientHash, recipientHashSchema } from './recipient-hash.js';

/**
 * The events other modules (CRM, accounting, the central server) may follow, and what they see of each. This list is
 * a contract: an event leaves it, or a payload loses or changes a field, only through a new version.
 *
 * Left private: the working steps nobody outside acts on (PlatformPublishingStarted, PlatformTokenRefreshed),
 * templates and content (drafts of what is published, which the publication events carry once it is), single social
 * interactions (they name people on the platforms), and the operations events (service health, security alerts).
 *
 * Personal data: notifications and consents name the recipient by recipientHash, never by address (see there why);
 * a notification request leaves out its template variables (first names, booking details), a failure its provider
 * message (bounce texts quote the address), a click its per-recipient link parameters (publicClickUrl).
 */
export interface PublicEvent {
  /** The event type in the store, and the envelope's `type`. */
  readonly type: string;
  /** The category of the streams the event is recorded in: the subject's aggregate token. */
  readonly aggregate: string;
  /** `<aggregate>.<event type in snake_case>`: the subject after the prefix, and the schema file's name. */
  readonly name: string;
  /** The payload's version, the envelope's schema_version. */
  readonly version: number;
  /** What subscribers receive as the envelope's `data`. */
  readonly payload: z.ZodType;
  /** The payload for a stored event's data; throws a ZodError when the data does not parse. */
  payloadOf(data: unknown): unknown;
}

function asRecorded(aggregate: string, definition: EventDefinition): PublicEvent {
  return { ...naming(aggregate, definition), payload: definition.schema, payloadOf: (data) => definition.schema.parse(data) };
}

function reshaped<D extends EventDefinition, P extends z.ZodType>(
  aggregate: string,
  definition: D,
  payload: P,
  toPayload: (data: z.output<D['schema']>) => z.input<P>,
): PublicEvent {
  return {
    ...naming(aggregate, definition),
    payload,
    payloadOf: (data) => payload.parse(toPayload(definition.schema.parse(data) as z.output<D['schema']>)),
  };
}

function naming(aggregate: string, definition: EventDefinition): Pick<PublicEvent, 'type' | 'aggregate' | 'name' | 'version'> {
  return { type: definition.type, aggregate, name: `${aggregate}.${snakeCase(definition.type)}`, version: definition.version };
}

export function snakeCase(type: string): string {
  return type.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

const { NotificationRequested, NotificationFailed, NotificationClicked } = notificationEvents;
const { ConsentGranted, ConsentWithdrawn, RecipientSuppressed, SuppressionReleased } = consentEvents;

function withRecipientHash<T extends { recipient: string; channel: NotificationChannel }>({ recipient, ...rest }: T) {
  // `rest` is a fresh copy: adding to it avoids `{ ...rest, recipient_hash }`, which V8 builds on a slow path.
  return Object.assign(rest, { recipient_hash: recipientHash(recipient, rest.channel) });
}

export const publicEvents: readonly PublicEvent[] = [
  ...Object.values(campaignEvents).map((definition) => asRecorded('campaign', definition)),

  asRecorded('publication', publicationEvents.PublicationScheduled),
  asRecorded('publication', publicationEvents.PublicationRescheduled),
  asRecorded('publication', publicationEvents.PublicationCanceled),
  asRecorded('publication', publicationEvents.PlatformPublished),
  asRecorded('publication', publicationEvents.PlatformPublishFailed),

  reshaped(
    'notification',
    NotificationRequested,
    NotificationRequested.schema.omit({ recipient: true, data: true }).extend({ recipient_hash: recipientHashSchema }),
    ({ data: _variables, ...rest }) => withRecipientHash(rest),
  ),
  asRecorded('notification', notificationEvents.NotificationSent),
  asRecorded('notification', notificationEvents.NotificationDelivered),
  reshaped('notification', NotificationFailed, NotificationFailed.schema.omit({ message: true }), ({ message: _message, ...rest }) => rest),
  asRecorded('notification', notificationEvents.NotificationSkipped),
  asRecorded('notification', notificationEvents.NotificationOpened),
  reshaped('notification', NotificationClicked, NotificationClicked.schema, (data) => ({ ...data, url: publicClickUrl(data.url) })),

  asRecorded('engagement', engagementEvents.EngagementMeasured),

  asRecorded('connection', platformConnectionEvents.PlatformAuthorizationFailed),
  asRecorded('connection', platformConnectionEvents.PlatformConnectionRestored),
  asRecorded('connection', platformConnectionEvents.PlatformConnected),
  asRecorded('connection', platformConnectionEvents.PlatformConnectionNeedsReconnect),
  asRecorded('connection', platformConnectionEvents.PlatformTokenExpiring),

  // Campaign results: conversions from the central server, spend for accounting, alerts on targets and budget.
  asRecorded('conversion', conversionEvents.ConversionAttributed),
  asRecorded('spend', spendEvents.SpendRecorded),
  asRecorded('performance', campaignPerformanceEvents.CampaignThresholdReached),
  asRecorded('performance', campaignPerformanceEvents.CampaignUnderperforming),
  asRecorded('performance', campaignPerformanceEvents.CampaignBudgetConsumed),
  // An A/B/n test's outcome, with the figures it rests on (recorded in the campaign's experiment stream).
  asRecorded('experiment', CampaignVariantWinnerChosen),

  reshaped('consent', ConsentGranted, ConsentGranted.schema.omit({ recipient: true }).extend({ recipient_hash: recipientHashSchema }), withRecipientHash),
  reshaped('consent', ConsentWithdrawn, ConsentWithdrawn.schema.omit({ recipient: true }).extend({ recipient_hash: recipientHashSchema }), withRecipientHash),
  reshaped('consent', RecipientSuppressed, RecipientSuppressed.schema.omit({ recipient: true }).extend({ recipient_hash: recipientHashSchema }), withRecipientHash),
  // SuppressionReleased too: without it, a subscriber mirroring suppressions could never lift one.
  reshaped('consent', SuppressionReleased, SuppressionReleased.schema.omit({ recipient: true }).extend({ recipient_hash: recipientHashSchema }), withRecipientHash),
  // Recorded with the hash only: the CRM and the others learn that the address is erased here, without the address.
  asRecorded('consent', consentEvents.RecipientErased),
];

const byType = new Map(publicEvents.map((event) => [event.type, event]));

export const publicEventTypes: string[] = [...byType.keys()];

export function publicEventFor(type: string): PublicEvent | undefined {
  return byType.get(type);
}
