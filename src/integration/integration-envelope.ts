import { z } from 'zod';
import { occurredAt, type RecordedEvent } from '../infrastructure/event-store/event-store.js';
import type { PublicEvent } from './public-events.js';

/**
 * One integration event as it travels: the subject, the JetStream de-duplication id, the headers (so that a consumer
 * can route or trace without parsing the body) and the body, an envelope around the public payload.
 */
export interface IntegrationMessage {
  subject: string;
  /** Nats-Msg-Id: the event id, so that publishing an event again within the duplicate window stores nothing. */
  msgId: string;
  headers: Record<string, string>;
  body: IntegrationEnvelope;
}

export interface IntegrationEnvelope {
  id: string;
  type: string;
  schema_version: number;
  occurred_at: string;
  correlation_id: string | null;
  causation_id: string | null;
  aggregate_id: string;
  data: unknown;
}

export const integrationHeaders = {
  correlationId: 'Correlation-Id',
  causationId: 'Causation-Id',
  eventType: 'Event-Type',
  schemaVersion: 'Schema-Version',
  contentType: 'Content-Type',
} as const;

/** The message for a recorded event of a public type; throws a ZodError when its data does not parse. */
export function integrationMessageFor(event: RecordedEvent, publicEvent: PublicEvent, subjectPrefix: string): IntegrationMessage {
  const correlationId = textOrNull(event.metadata.correlation_id);
  const causationId = textOrNull(event.metadata.causation_id);
  const headers: Record<string, string> = {
    [integrationHeaders.eventType]: publicEvent.type,
    [integrationHeaders.schemaVersion]: String(publicEvent.version),
    [integrationHeaders.contentType]: 'application/json',
  };
  if (correlationId) headers[integrationHeaders.correlationId] = correlationId;
  if (causationId) headers[integrationHeaders.causationId] = causationId;
  return {
    subject: `${subjectPrefix}.${publicEvent.name}`,
    msgId: event.id,
    headers,
    body: {
      id: event.id,
      type: publicEvent.type,
      schema_version: publicEvent.version,
      occurred_at: occurredAt(event).toISOString(),
      correlation_id: correlationId,
      causation_id: causationId,
      aggregate_id: aggregateIdOf(event.streamId),
      data: publicEvent.payloadOf(event.data),
    },
  };
}

/** The envelope of one public event type, for its JSON Schema. */
export function envelopeSchemaFor(publicEvent: PublicEvent) {
  return z.object({
    id: z.uuid().describe('The event id: unique, the same on every delivery; de-duplicate on it.'),
    type: z.literal(publicEvent.type),
    schema_version: z.literal(publicEvent.version),
    occurred_at: z.iso.datetime({ offset: true }).describe('When the event was recorded (the command clock), UTC.'),
    correlation_id: z.string().nullable().describe('The request or message this event is part of, shared by everything it caused.'),
    causation_id: z.string().nullable().describe('The request or event that directly caused this event.'),
    aggregate_id: z.string().min(1).describe(`The ${publicEvent.aggregate} the event is about.`),
    data: publicEvent.payload,
  });
}

/** `<category>-<id>` → `<id>`: a campaign, publication or notification id, a platform name, a recipient hash. */
function aggregateIdOf(streamId: string): string {
  const dash = streamId.indexOf('-');
  return dash === -1 ? streamId : streamId.slice(dash + 1);
}

function textOrNull(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}
