import { ZodError } from 'zod';
import type { Env } from '../infrastructure/config/env.js';
import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import type { EventStore, RecordedEvent } from '../infrastructure/event-store/event-store.js';
import type { Logger } from '../infrastructure/logging/logger.js';
import type { FollowerLeases } from '../projections/follower-lease.js';
import { Reactor, type ReactorDefinition } from '../reactors/reactor.js';
import { integrationMessageFor, type IntegrationMessage } from './integration-envelope.js';
import { openIntegrationEventStream, type IntegrationEventStream, type IntegrationEventStreamOptions } from './integration-event-stream.js';
import { publicEventFor, publicEventTypes } from './public-events.js';

/**
 * Publishes every public event (public-events.ts) to `<prefix>.<aggregate>.<event>` for the other modules. The
 * reactor is at-least-once: after a crash, or a checkpoint moved back, events are published again with the same
 * Nats-Msg-Id, which JetStream drops within its duplicate window; subscribers de-duplicate on the envelope's id for
 * what comes later than that.
 */
export function integrationEventPublisher(publish: (message: IntegrationMessage) => Promise<unknown>, subjectPrefix: string, logger: Logger): ReactorDefinition {
  return {
    name: 'integration-events',
    filter: { eventTypes: publicEventTypes },
    async handle(event: RecordedEvent) {
      const publicEvent = publicEventFor(event.type);
      if (!publicEvent) return;
      const message = messageOrSkip(() => integrationMessageFor(event, publicEvent, subjectPrefix), event, logger);
      if (message) await publish(message);
    },
  };
}

/** An event whose data does not parse is logged and skipped: retrying cannot fix it, and it must not stall the rest. */
function messageOrSkip(build: () => IntegrationMessage, event: RecordedEvent, logger: Logger): IntegrationMessage | null {
  try {
    return build();
  } catch (error) {
    if (!(error instanceof ZodError)) throw error;
    logger.error({ eventId: event.id, eventType: event.type, issues: error.issues.map((i) => i.path.join('.')) }, 'integration event not published: unexpected data');
    return null;
  }
}

export interface RunningIntegrationEvents {
  reactor: Reactor;
  /** Closes the NATS connection; stop the reactor first. */
  close(): Promise<void>;
}

/**
 * The publisher's reactor on its own NATS connection, or null without NATS_URL: the embedded mode has no broker the
 * other modules could read from.
 */
export async function startIntegrationEvents(
  env: Pick<Env, 'NATS_URL' | 'COMM_EVENTS_STREAM'> & Partial<Pick<Env, 'COMM_EVENTS_SUBJECT_PREFIX'>>,
  deps: { store: EventStore; db: SharedDatabase; logger: Logger; leases?: FollowerLeases; stream?: Partial<IntegrationEventStreamOptions> },
): Promise<RunningIntegrationEvents | null> {
  const { store, db, logger } = deps;
  if (!env.NATS_URL) {
    logger.info('integration events: not published (they need NATS: set NATS_URL)');
    return null;
  }
  const streamName = deps.stream?.streamName ?? env.COMM_EVENTS_STREAM;
  const stream: IntegrationEventStream = await openIntegrationEventStream({
    servers: env.NATS_URL.split(','),
    onError: (err, context) => logger.error({ err, context }, 'integration events error'),
    ...(env.COMM_EVENTS_SUBJECT_PREFIX ? { subjectPrefix: env.COMM_EVENTS_SUBJECT_PREFIX } : {}),
    ...deps.stream,
    streamName,
  });
  logger.info({ stream: streamName, subjects: `${stream.subjectPrefix}.>` }, 'integration events: NATS JetStream');
  const definition = integrationEventPublisher((message) => stream.publish(message), stream.subjectPrefix, logger);
  // An aggregate's events one after the other, so a subscriber sees them in the order they were recorded; different
  // aggregates at once, so publishing keeps up with a campaign's thousands of notifications.
  const reactor = new Reactor(store, db, definition, logger, { batchSize: 500, concurrency: 64, inOrderPerStream: true, leases: deps.leases });
  return { reactor, close: () => stream.close() };
}
