import { createInbox, headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';

export interface PublishAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

export interface JetStreamPublisher {
  /** Resolves once JetStream stored the message (or recognised its msgId as a duplicate); rejects on refusal or timeout. */
  publish(subject: string, data: string | Uint8Array, options: { msgId: string; headers?: Record<string, string> }): Promise<PublishAck>;
  close(): void;
}

/** Raised when JetStream refuses a message (its PubAck carries an error) or nothing stores the subject. */
export class JetStreamPublishError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'JetStreamPublishError';
  }
}

const SWEEP_INTERVAL_MS = 1_000;

/**
 * Publishes to JetStream with many acknowledgements outstanding on one reply subscription. The client's own
 * publish makes a request per message (a reply subscription entry, a timer and an error object each), which cost
 * the worker three times what the message itself does at thousands of messages a second; here each message is one
 * core publish with a reply subject, and one sweep a second fails the acknowledgements that did not come in time.
 * The semantics are the same: Nats-Msg-Id de-duplicates, and a timeout means "unknown", so the caller retries with the
 * same msgId.
 */
export function createJetStreamPublisher(nc: NatsConnection, options: { timeoutMs?: number } = {}): JetStreamPublisher {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const prefix = createInbox();
  const pending = new Map<string, { resolve(ack: PublishAck): void; reject(error: Error): void; at: number }>();
  let next = 0;
  const decoder = new TextDecoder();

  const settle = (error: Error | null, msg: Msg) => {
    const token = msg.subject.slice(prefix.length + 1);
    const waiting = pending.get(token);
    if (!waiting) return; // timed out already
    pending.delete(token);
    if (error) return waiting.reject(error);
    if (msg.headers?.hasError) {
      // 503: no stream listens on the subject (or JetStream is unavailable right now).
      return waiting.reject(new JetStreamPublishError(`JetStream did not store the message: ${msg.headers.code} ${msg.headers.description}`, msg.headers.code));
    }
    try {
      const ack = JSON.parse(decoder.decode(msg.data)) as { stream?: string; seq?: number; duplicate?: boolean; error?: { code?: number; description?: string } };
      if (ack.error) return waiting.reject(new JetStreamPublishError(`JetStream refused the message: ${ack.error.description ?? 'unknown error'}`, ack.error.code));
      if (!ack.stream) return waiting.reject(new JetStreamPublishError('JetStream answered without a stream'));
      waiting.resolve({ stream: ack.stream, seq: ack.seq ?? 0, duplicate: ack.duplicate ?? false });
    } catch (parseError) {
      waiting.reject(new JetStreamPublishError(`Unreadable JetStream acknowledgement: ${String(parseError)}`));
    }
  };
  const subscription: Subscription = nc.subscribe(`${prefix}.*`, { callback: settle });

  const sweep = setInterval(() => {
    const expired = Date.now() - timeoutMs;
    for (const [token, waiting] of pending) {
      // Insertion order is publish order: the first one still in time ends the sweep.
      if (waiting.at > expired) break;
      pending.delete(token);
      waiting.reject(new JetStreamPublishError(`No JetStream acknowledgement within ${timeoutMs} ms`));
    }
  }, SWEEP_INTERVAL_MS);
  sweep.unref();

  // Messages published during one turn of the event loop go out together: the client writes what was published
  // within a microtask in one socket write, and publishers awaiting different things each publish in a microtask of
  // their own (one write per message otherwise).
  let queued: (() => void)[] = [];
  const sendQueued = () => {
    const sends = queued;
    queued = [];
    for (const send of sends) send();
  };

  return {
    publish(subject, data, { msgId, headers }) {
      return new Promise<PublishAck>((resolve, reject) => {
        const token = (next++).toString(36);
        // append, not set: the headers are new, and set looks every key up again first (a tenth of the publish).
        const h = natsHeaders();
        h.append('Nats-Msg-Id', msgId);
        for (const [key, value] of Object.entries(headers ?? {})) h.append(key, value);
        pending.set(token, { resolve, reject, at: Date.now() });
        if (queued.length === 0) setImmediate(sendQueued);
        queued.push(() => {
          try {
            nc.publish(subject, data, { reply: `${prefix}.${token}`, headers: h });
          } catch (error) {
            pending.delete(token);
            reject(error as Error);
          }
        });
      });
    },
    close() {
      clearInterval(sweep);
      subscription.unsubscribe();
      for (const waiting of pending.values()) waiting.reject(new JetStreamPublishError('The connection is closing'));
      pending.clear();
    },
  };
}
