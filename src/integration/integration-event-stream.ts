import { connect, nanos } from '@nats-io/transport-node';
import { createJetStreamPublisher } from '../infrastructure/bus/jetstream-publisher.js';
import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { IntegrationMessage } from './integration-envelope.js';

export const DEFAULT_EVENTS_STREAM = 'COMM_EVENTS';
export const DEFAULT_EVENTS_SUBJECT_PREFIX = 'communication.events';
/** Long enough to cover a reactor that republishes its last batch after a crash and restart. */
export const EVENTS_DUPLICATE_WINDOW_MS = 120_000;
/** What a module can replay from the stream; older history is still in the event store (see docs/asyncapi.yaml). */
export const EVENTS_MAX_AGE_MS = 365 * 24 * 3_600_000;

export interface IntegrationEventStreamOptions {
  servers: string[];
  streamName?: string;
  subjectPrefix?: string;
  duplicateWindowMs?: number;
  maxAgeMs?: number;
  /** Where errors that reach no caller go (the connection dying). */
  onError?: (error: unknown, context: string) => void;
}

export interface IntegrationEventStream {
  readonly subjectPrefix: string;
  /** Resolves once JetStream stored the message, or recognised it as a duplicate. */
  publish(message: IntegrationMessage): Promise<{ duplicate: boolean }>;
  close(): Promise<void>;
}

/**
 * The stream integration events are published on. Unlike the job stream (a work queue: a job is gone once one worker
 * acks it), it keeps every message until it ages out (limits retention), so that each subscribing module reads it
 * through its own durable consumer, at its own pace, and can replay from a sequence or a time.
 */
export async function openIntegrationEventStream(options: IntegrationEventStreamOptions): Promise<IntegrationEventStream> {
  const streamName = options.streamName ?? DEFAULT_EVENTS_STREAM;
  const subjectPrefix = options.subjectPrefix ?? DEFAULT_EVENTS_SUBJECT_PREFIX;
  // Reconnect forever: a NATS restart pauses publishing (the reactor retries), it does not stop the service.
  const nc = await connect({ servers: options.servers, name: 'comm-integration-events', maxReconnectAttempts: -1, noAsyncTraces: true });
  void nc.closed().then((error) => error && options.onError?.(error, 'integration events connection closed'));
  try {
    await ensureStream(await jetstreamManager(nc), streamName, subjectPrefix, {
      duplicateWindowMs: options.duplicateWindowMs ?? EVENTS_DUPLICATE_WINDOW_MS,
      maxAgeMs: options.maxAgeMs ?? EVENTS_MAX_AGE_MS,
    });
  } catch (error) {
    await nc.close();
    throw error;
  }
  const publisher = createJetStreamPublisher(nc);
  return {
    subjectPrefix,
    async publish(message) {
      const ack = await publisher.publish(message.subject, JSON.stringify(message.body), { msgId: message.msgId, headers: message.headers });
      return { duplicate: ack.duplicate };
    },
    close: async () => {
      publisher.close();
      await nc.close();
    },
  };
}

async function ensureStream(
  jsm: JetStreamManager,
  name: string,
  subjectPrefix: string,
  limits: { duplicateWindowMs: number; maxAgeMs: number },
): Promise<void> {
  const subjects = `${subjectPrefix}.>`;
  try {
    const { config } = await jsm.streams.info(name);
    // Publishing into a work queue (COMM_EVENTS_STREAM set to the job stream's name, say) would hand each event to
    // one subscriber only; better not to start.
    if (config.retention === RetentionPolicy.Workqueue || !config.subjects.includes(subjects)) {
      throw new Error(`NATS stream ${name} exists but is not an integration event stream (${subjects}, limits retention): choose another COMM_EVENTS_STREAM`);
    }
    return;
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
  }
  // The server refuses a second stream on the same subjects, with a message that names neither.
  const holder = await jsm.streams.find(subjects).catch(() => null);
  if (holder) throw new Error(`NATS stream ${holder} already holds ${subjects}: set COMM_EVENTS_STREAM=${holder}`);
  await jsm.streams.add({
    name,
    subjects: [subjects],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    duplicate_window: nanos(limits.duplicateWindowMs),
    max_age: nanos(limits.maxAgeMs),
  });
}
