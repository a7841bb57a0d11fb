import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import type { EventMetadata, RecordedEvent } from '../../src/infrastructure/event-store/event-store.js';
import { envelopeSchemaFor, integrationMessageFor } from '../../src/integration/integration-envelope.js';
import { publicEventFor } from '../../src/integration/public-events.js';

const publicationId = randomUUID();
const published = {
  publication_id: publicationId,
  platform: 'facebook',
  attempt_id: 'a-1',
  post_id: 'fb_12345',
  post_url: null,
  published_at: '2025-04-12T15:30:45.000Z',
};

function recorded(data: unknown, metadata: EventMetadata): RecordedEvent {
  return {
    id: randomUUID(),
    type: 'PlatformPublished',
    streamId: `publication-${publicationId}`,
    revision: 3,
    position: { commit: 1n, prepare: 1n },
    data,
    metadata,
    createdAt: new Date('2025-04-12T15:30:46Z'),
  };
}

const platformPublished = publicEventFor('PlatformPublished')!;

describe('integration message', () => {
  it('goes to <prefix>.<aggregate>.<event>, de-duplicated on the event id, with the tracing headers', () => {
    const event = recorded(published, { correlation_id: 'req-1', causation_id: 'evt-0', timestamp: '2025-04-12T15:30:45.123Z', schema_version: 1 });
    const message = integrationMessageFor(event, platformPublished, 'communication.events');
    expect(message.subject).toBe('communication.events.publication.platform_published');
    expect(message.msgId).toBe(event.id);
    expect(message.headers).toEqual({
      'Correlation-Id': 'req-1',
      'Causation-Id': 'evt-0',
      'Event-Type': 'PlatformPublished',
      'Schema-Version': '1',
      'Content-Type': 'application/json',
    });
    expect(message.body).toEqual({
      id: event.id,
      type: 'PlatformPublished',
      schema_version: 1,
      occurred_at: '2025-04-12T15:30:45.123Z',
      correlation_id: 'req-1',
      causation_id: 'evt-0',
      aggregate_id: publicationId,
      data: published,
    });
    expect(envelopeSchemaFor(platformPublished).parse(message.body)).toEqual(message.body);
  });

  it('says null, and sends no header, when the event has no correlation or causation; the store time stands in for the command clock', () => {
    const message = integrationMessageFor(recorded(published, {}), platformPublished, 'p');
    expect(message.body).toMatchObject({ correlation_id: null, causation_id: null, occurred_at: '2025-04-12T15:30:46.000Z' });
    expect(Object.keys(message.headers)).toEqual(['Event-Type', 'Schema-Version', 'Content-Type']);
  });

  it('is refused when the data does not parse', () => {
    expect(() => integrationMessageFor(recorded({ ...published, platform: 'myspace' }, {}), platformPublished, 'p')).toThrow(ZodError);
  });
});
