/**
 * The bus on NATS JetStream: one work-queue stream (`<prefix>.>`, file storage) holds every job until a
 * durable pull consumer acks it; the stream's duplicate window de-duplicates on Nats-Msg-Id.
 *
 * Retry policy lives in the client (runHandler): a failure naks with the caller's backoff. The server's
 * own `backoff` is not used because it replaces ack_wait, so a slow but healthy handler would get a
 * duplicate delivery after backoff[0]. Server max_deliver is unlimited because, in a work-queue stream,
 * a message that reaches it stays stored and is never delivered again: a silently stuck job. The client
 * dead-letters instead, even a message whose earlier deliveries never finished (see runHandler).
 */
import { connect, headers as natsHeaders, nanos, type MsgHdrs } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerInfo,
  type ConsumerMessages,
  type ConsumerUpdateConfig,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import {
  consumeDefaults,
  DEAD_LETTER_HEADERS,
  deadLetterSubject,
  DEFAULT_DUPLICATE_WINDOW_MS,
  deadLettersOf,
  drainInFlight,
  DEFAULT_SUBJECT_PREFIX,
  encodePublish,
  runHandler,
  settleOnce,
  validateConsume,
  type BusMessage,
  type BusStats,
  type ConsumeOptions,
  type Consumer,
  type Handler,
  type MessageBus,
  type StopOptions,
} from './message-bus.js';
import { createJetStreamPublisher } from './jetstream-publisher.js';

export interface JetStreamBusOptions {
  servers: string | string[];
  streamName?: string;
  subjectPrefix?: string;
  duplicateWindowMs?: number;
  /** Connection name shown by the server (monitoring). */
  name?: string;
  /**
   * How the stream keeps messages when this bus has to create it: 'workqueue' (default; the job queues: a message is
   * gone once acked) or 'limits' (kept for every consumer: another module's events, which several modules read).
   * A stream that exists already is used as it is.
   */
  retention?: 'workqueue' | 'limits';
  /** Where errors that cannot be thrown to a caller go (a settle failing, the connection dying). Default: console.error. */
  onError?: (error: unknown, context: string) => void;
}

export const DEFAULT_STREAM_NAME = 'COMM_JOBS';

/** How long one pull waits for messages when the queue has fewer than the free handlers (JetStream's minimum is 1 s). */
const FETCH_EXPIRES_MS = 5_000;

export async function createJetStreamBus(options: JetStreamBusOptions): Promise<MessageBus> {
  const stream = options.streamName ?? DEFAULT_STREAM_NAME;
  const prefix = options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
  const onError = options.onError ?? ((error, context) => console.error(`[jetstream bus] ${context}`, error));
  // Reconnect forever: a NATS restart must look like a pause to the service, not a crash.
  // noAsyncTraces: every request (a publish ack, an ackAck) would otherwise build an Error for its stack trace.
  const nc = await connect({ servers: options.servers, name: options.name ?? 'comm-bus', maxReconnectAttempts: -1, noAsyncTraces: true });
  void nc.closed().then((error) => error && onError(error, 'connection closed'));
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const publisher = createJetStreamPublisher(nc);
  try {
    await ensureStream(jsm, stream, prefix, options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS, options.retention ?? 'workqueue');
  } catch (error) {
    await nc.close();
    throw error;
  }

  const stops = new Set<() => Promise<void>>();
  let closing: Promise<void> | undefined;

  async function publishDeadLetter(m: JsMsg, id: string, reason: string): Promise<void> {
    const h = natsHeaders();
    for (const [key, value] of Object.entries(userHeaders(m.headers))) h.set(key, value);
    h.set(DEAD_LETTER_HEADERS.reason, reason);
    h.set(DEAD_LETTER_HEADERS.subject, m.subject);
    h.set(DEAD_LETTER_HEADERS.deliveryCount, String(m.info.deliveryCount));
    // The msgID makes a retry after a crash between this publish and the ack harmless.
    await js.publish(deadLetterSubject(prefix, m.subject), m.data, { msgID: `dead:${id}`, headers: h });
  }

  // Unconfirmed acks of one event-loop turn leave in one socket write (see jetstream-publisher.ts).
  let acks: JsMsg[] = [];
  const ackQueued = () => {
    const batch = acks;
    acks = [];
    for (const m of batch) m.ack();
  };
  const ackSoon = (m: JsMsg) => {
    if (acks.length === 0) setImmediate(ackQueued);
    acks.push(m);
  };

  function toBusMessage<T>(m: JsMsg, data: T, confirmAcks = true): BusMessage<T> {
    const id = m.headers?.get('Nats-Msg-Id') || String(m.seq);
    return settleOnce<T>(
      { id, subject: m.subject, data, headers: userHeaders(m.headers), deliveryCount: m.info.deliveryCount },
      {
        // ackAck: resolve only once the server has the ack, so "acked" means it will not come back.
        ack: async () => void (confirmAcks ? await m.ackAck() : ackSoon(m)),
        nak: async (delayMs) => (delayMs > 0 ? m.nak(delayMs) : m.nak()),
        deadLetter: async (reason) => {
          await publishDeadLetter(m, id, reason);
          await m.ackAck();
        },
      },
    );
  }

  return {
    subjectPrefix: prefix,

    deadLetterSubject: (subject) => deadLetterSubject(prefix, subject),

    async publish(subject, data, publishOptions) {
      if (closing) throw new Error('The bus is closed');
      const json = encodePublish(prefix, subject, data, publishOptions);
      const ack = await publisher.publish(subject, json, { msgId: publishOptions.msgId, headers: publishOptions.headers });
      return { duplicate: ack.duplicate };
    },

    async consume<T>(consumeOptions: ConsumeOptions, handler: Handler<T>): Promise<Consumer> {
      if (closing) throw new Error('The bus is closed');
      validateConsume(consumeOptions);
      const { durable, subjects } = consumeOptions;
      const limits = {
        maxDeliver: consumeOptions.maxDeliver ?? consumeDefaults.maxDeliver,
        backoffMs: consumeOptions.backoffMs ?? consumeDefaults.backoffMs,
      };
      const ackWaitMs = consumeOptions.ackWaitMs ?? consumeDefaults.ackWaitMs;
      const concurrency = consumeOptions.concurrency ?? consumeDefaults.concurrency;
      await ensureConsumer(jsm, stream, durable, {
        ack_wait: nanos(ackWaitMs),
        max_deliver: -1,
        // Unlimited: a message nak'ed with a delay (a retry backoff, a provider's Retry-After, quiet hours until the
        // morning) counts as unacknowledged until it comes back, and at the server's default of 1000 such messages
        // the durable stops delivering anything, fresh jobs included. How many run at once is the client's
        // concurrency, which each pull asks for no more than.
        // An ordered durable delivers one message at a time whichever process asks: the next waits for the ack.
        max_ack_pending: consumeOptions.ordered ? 1 : -1,
        // Exactly one of the two may be set; undefined removes the other one on update.
        filter_subject: subjects.length === 1 ? subjects[0] : undefined,
        filter_subjects: subjects.length === 1 ? undefined : subjects,
      });
      const pull = await js.consumers.get(stream, durable);

      // Each handler's promise → how to hand its message back (see stop).
      const inFlight = new Map<Promise<void>, () => Promise<void>>();
      let stopping = false;
      let wakeLoop!: () => void;
      const stopRequested = new Promise<void>((resolve) => (wakeLoop = resolve));
      const start = (m: JsMsg): void => {
        // Keep the delivery alive while the handler works, so ack_wait only matters if this process dies.
        const keepAlive = setInterval(() => m.working(), Math.max(100, ackWaitMs / 2));
        keepAlive.unref();
        let message: BusMessage<T>;
        let run: () => Promise<void>;
        try {
          message = toBusMessage(m, m.json<T>(), consumeOptions.confirmAcks ?? consumeDefaults.confirmAcks);
          run = () => runHandler(message, handler, limits, onError);
        } catch (error) {
          message = toBusMessage<T>(m, undefined as T);
          run = () => message.deadLetter(`Undecodable JSON: ${String(error)}`);
        }
        const done: Promise<void> = run()
          .catch((error: unknown) => onError(error, `handling ${m.subject}`))
          .finally(() => {
            clearInterval(keepAlive);
            inFlight.delete(done);
          });
        inFlight.set(done, async () => {
          clearInterval(keepAlive);
          await message.nak();
        });
      };
      // Fetched but not started when stop() came: handed straight back to another consumer.
      const unstarted: JsMsg[] = [];
      let batch: ConsumerMessages | undefined;
      // Each pull asks for as many messages as there are free handlers, so every message this process holds is being
      // handled and kept alive. A client-side buffer (consume()) held messages that waited for a handler with no
      // keepalive: past ack_wait the server handed them to another worker as well, and both ran them.
      const loop = (async () => {
        while (!stopping) {
          if (inFlight.size >= concurrency) {
            await Promise.race([...inFlight.keys(), stopRequested]);
            continue;
          }
          try {
            batch = await pull.fetch({ max_messages: concurrency - inFlight.size, expires: FETCH_EXPIRES_MS });
            // close() settles once the messages are read to the end, which the loop below does.
            if (stopping) void batch.close().catch((error: unknown) => onError(error, `closing consumer ${durable}`));
            for await (const m of batch) {
              if (stopping) unstarted.push(m);
              else start(m);
            }
          } catch (error) {
            if (stopping) break;
            // The server is gone or restarting: the connection reconnects by itself; ask again in a moment.
            onError(error, `consumer ${durable}`);
            await Promise.race([new Promise((resolve) => setTimeout(resolve, 1_000).unref()), stopRequested]);
          } finally {
            batch = undefined;
          }
        }
      })().catch((error: unknown) => onError(error, `consumer ${durable}`));

      let stopped: Promise<void> | undefined;
      const stop = (options: StopOptions = {}): Promise<void> =>
        (stopped ??= (async () => {
          stopping = true;
          wakeLoop();
          void batch?.close().catch((error: unknown) => onError(error, `closing consumer ${durable}`));
          await loop;
          // The server keeps the pull request this consumer leaves open until it next tries to deliver to it, and a
          // message nak'ed meanwhile can get lost on it until its ack wait runs out (seen with nats-server 2.9).
          // Asking for the consumer's info makes the server drop the pull requests nobody listens to any more.
          await jsm.consumers.info(stream, durable).catch((error: unknown) => onError(error, `consumer ${durable} info`));
          for (const m of unstarted.splice(0)) m.nak();
          await drainInFlight(inFlight, options.handBackAfterMs, onError);
          stops.delete(stop);
        })());
      stops.add(stop);
      return { stop };
    },

    async ping() {
      // Checks the connection, JetStream and our stream at once.
      await jsm.streams.info(stream);
    },

    async stats(): Promise<BusStats> {
      // Every durable of the stream, not only this process's: an API-only process still shows the queues.
      const consumers: ConsumerInfo[] = [];
      for await (const info of jsm.consumers.list(stream)) consumers.push(info);
      const deadPrefix = `${prefix}.dead.`;
      const info = await jsm.streams.info(stream, { subjects_filter: `${deadPrefix}>` });
      const dead = Object.entries(info.state.subjects ?? {}).map(([subject, count]): [string, number] => [subject.slice(deadPrefix.length), count]);
      const queues = consumers.map((consumer) => {
        const subjects = consumer.config.filter_subjects ?? (consumer.config.filter_subject ? [consumer.config.filter_subject] : []);
        return {
          name: consumer.name,
          subjects,
          pending: consumer.num_pending,
          ackPending: consumer.num_ack_pending,
          redelivered: consumer.num_redelivered,
          deadLetters: deadLettersOf(subjects, dead),
        };
      });
      return { queues, deadLetters: dead.reduce((sum, [, count]) => sum + count, 0) };
    },

    close() {
      closing ??= (async () => {
        await Promise.all([...stops].map((stop) => stop()));
        publisher.close();
        await nc.close();
      })();
      return closing;
    },
  };
}

async function ensureStream(jsm: JetStreamManager, name: string, prefix: string, windowMs: number, retention: 'workqueue' | 'limits'): Promise<void> {
  if (await exists(() => jsm.streams.info(name), JetStreamApiCodes.StreamNotFound)) return;
  await jsm.streams.add({
    name,
    subjects: [`${prefix}.>`],
    // Work queue: a job is stored until one consumer acks it, even if no consumer exists yet.
    retention: retention === 'limits' ? RetentionPolicy.Limits : RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(windowMs),
  });
}

async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
  config: Partial<ConsumerUpdateConfig>,
): Promise<void> {
  if (await exists(() => jsm.consumers.info(stream, durable), JetStreamApiCodes.ConsumerNotFound)) {
    // A deploy may change the filter or ack wait of an existing durable.
    await jsm.consumers.update(stream, durable, config);
    return;
  }
  await jsm.consumers.add(stream, {
    ...config,
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
  });
}

async function exists(info: () => Promise<unknown>, notFoundCode: number): Promise<boolean> {
  try {
    await info();
    return true;
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === notFoundCode) return false;
    throw error;
  }
}

/** Headers as the port shows them: Nats-* ones are JetStream's own. */
function userHeaders(h: MsgHdrs | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, values] of h ?? []) {
    if (!key.toLowerCase().startsWith('nats-')) result[key] = values[values.length - 1] ?? '';
  }
  return result;
}
