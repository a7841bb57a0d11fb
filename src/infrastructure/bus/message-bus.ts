/**
 * The work-queue bus port: reactors publish jobs (e.g. `comm.jobs.publish.facebook`), workers consume them.
 * Adapters: in-process (embedded default) and JetStream. Both satisfy the suite in
 * test/infrastructure/bus/message-bus-contract.ts.
 *
 * Semantics shared by all adapters:
 * - at-least-once: handlers must be idempotent (use message.id);
 * - work-queue: a stored message goes to exactly one durable (the one whose filter matches; filters of
 *   different durables must not overlap) and, within it, to one of its consumers. Messages published
 *   before any consumer exists wait for it;
 * - a handler that returns without settling acks; one that throws naks with the next backoff delay,
 *   and on its maxDeliver-th delivery the message is dead-lettered instead;
 * - dead letters go to `<prefix>.dead.<original subject>` with the DEAD_LETTER_HEADERS, and are acked;
 * - publish de-duplicates by msgId within a window (2 minutes by default);
 * - data is JSON.
 */

export interface BusMessage<T = unknown> {
  /** The publisher's msgId. */
  id: string;
  subject: string;
  data: T;
  headers: Record<string, string>;
  /** 1 on the first delivery. */
  deliveryCount: number;
  ack(): Promise<void>;
  /** Redeliver after delayMs (default: at once). */
  nak(delayMs?: number): Promise<void>;
  /** Ack, and copy the message to the dead-letter subject with the reason: for errors a retry cannot fix. */
  deadLetter(reason: string): Promise<void>;
}

export interface PublishOptions {
  /** De-duplication id (JetStream: the Nats-Msg-Id header). */
  msgId: string;
  headers?: Record<string, string>;
}

export interface ConsumeOptions {
  /** Consumers sharing a durable name share its messages. */
  durable: string;
  /** Filter subjects; `*` and `>` wildcards allowed. */
  subjects: string[];
  /** Deliveries before dead-lettering. Default 5. */
  maxDeliver?: number;
  /** Delay before the n-th redelivery after a failure; the last value repeats. */
  backoffMs?: number[];
  /** How long a delivery may stay unacked before the server redelivers it (JetStream only; kept alive while the handler runs). */
  ackWaitMs?: number;
  /** Handlers running at once in this consumer. Default 1. */
  concurrency?: number;
  /**
   * One message at a time across every consumer of the durable, in every process, in the order stored (JetStream:
   * max_ack_pending 1): for messages whose order matters, such as another module's events about one customer.
   * The in-process bus is one process: concurrency 1 is enough there.
   */
  ordered?: boolean;
  /**
   * Whether ack() waits for the server to confirm it has the ack (default true). Without it, an ack lost on the way
   * (the connection dropping at that moment) brings the message back after the ack wait: leave it on unless the
   * handler recognises a job it has already done, and then save the round trip per message.
   */
  confirmAcks?: boolean;
}

export interface StopOptions {
  /**
   * How long in-flight handlers may still run. Those not done by then are handed back (nak, no delay) so another
   * consumer takes them at once rather than after the ack wait; whatever they settle later is ignored.
   * Default: wait for them however long they take.
   */
  handBackAfterMs?: number;
}

export interface Consumer {
  /** Stop taking work and wait for in-flight handlers (see StopOptions). */
  stop(options?: StopOptions): Promise<void>;
}

export type Handler<T> = (message: BusMessage<T>) => Promise<void>;

/** One work queue (a durable) as operations see it. */
export interface QueueStats {
  /** The durable name. */
  name: string;
  subjects: string[];
  /** Stored and waiting for a first delivery. */
  pending: number;
  /** Delivered and not settled yet: being handled, or waiting for a redelivery. */
  ackPending: number;
  /** Delivered at least once before and still not settled (JetStream: num_redelivered). */
  redelivered: number;
  /** Messages of this queue waiting on the dead-letter subjects. */
  deadLetters: number;
}

export interface BusStats {
  queues: QueueStats[];
  /** Every dead letter, including those of queues no process consumes any more. */
  deadLetters: number;
}

export interface MessageBus {
  /** Every subject is `<subjectPrefix>.<...>`. */
  readonly subjectPrefix: string;
  publish(subject: string, data: unknown, options: PublishOptions): Promise<{ duplicate: boolean }>;
  consume<T>(options: ConsumeOptions, handler: Handler<T>): Promise<Consumer>;
  /** Where messages published on `subject` go when they are dead-lettered. */
  deadLetterSubject(subject: string): string;
  /** Rejects when the bus cannot serve (health checks). */
  ping(): Promise<void>;
  /** Depth of each work queue and the dead letters (status route, metrics). */
  stats?(): Promise<BusStats>;
  /** Stops every consumer (waiting for in-flight handlers) and releases the connection. */
  close(): Promise<void>;
}

export const DEAD_LETTER_HEADERS = {
  reason: 'Dead-Letter-Reason',
  subject: 'Dead-Letter-Subject',
  deliveryCount: 'Dead-Letter-Delivery-Count',
} as const;

export const DEFAULT_SUBJECT_PREFIX = 'comm.jobs';
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;

export const consumeDefaults = {
  maxDeliver: 5,
  backoffMs: [1_000, 5_000, 30_000, 120_000],
  ackWaitMs: 30_000,
  concurrency: 1,
  ordered: false,
  confirmAcks: true,
} satisfies Required<Omit<ConsumeOptions, 'durable' | 'subjects'>>;

export function deadLetterSubject(prefix: string, subject: string): string {
  return `${prefix}.dead.${subject}`;
}

/** The checks both adapters make, so code that works in-process does not fail on JetStream. */
export function encodePublish(prefix: string, subject: string, data: unknown, options: PublishOptions): string {
  if (!subject.startsWith(`${prefix}.`) || /[\s*>]/.test(subject) || subject.split('.').includes('')) {
    throw new Error(`Invalid subject '${subject}': expected a literal subject under '${prefix}.'`);
  }
  if (!options.msgId) throw new Error('publish needs a msgId (de-duplication id)');
  for (const name of Object.keys(options.headers ?? {})) {
    // Nats-* headers would change JetStream's behaviour (expectations, dedup, TTL...).
    if (name.toLowerCase().startsWith('nats-')) throw new Error(`Header '${name}' is reserved`);
  }
  const json = JSON.stringify(data);
  if (json === undefined) throw new TypeError('Message data must be JSON-serialisable');
  return json;
}

export function validateConsume(options: ConsumeOptions): void {
  if (!/^[A-Za-z0-9_-]+$/.test(options.durable)) throw new Error(`Invalid durable name '${options.durable}'`);
  if (options.subjects.length === 0) throw new Error('consume needs at least one filter subject');
  if ((options.maxDeliver ?? 1) < 1 || (options.concurrency ?? 1) < 1) {
    throw new Error('maxDeliver and concurrency must be at least 1');
  }
}

/** Which queue a dead letter belongs to: the one whose filter matches the subject it was published on. */
export function deadLettersOf(queueSubjects: string[], deadBySubject: Iterable<[originalSubject: string, count: number]>): number {
  let total = 0;
  for (const [subject, count] of deadBySubject) if (queueSubjects.some((filter) => subjectMatches(filter, subject))) total += count;
  return total;
}

/** NATS subject matching: `*` matches one token, a final `>` one or more. */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length || (f[i] !== '*' && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}

/** Whether some subject matches both filters (work-queue durables must not overlap). */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] === '>' || y[i] === '>') return true;
    if (x[i] !== '*' && y[i] !== '*' && x[i] !== y[i]) return false;
  }
  return x.length === y.length;
}

export function backoffDelay(backoffMs: number[], deliveryCount: number): number {
  return backoffMs[Math.min(deliveryCount - 1, backoffMs.length - 1)] ?? 0;
}

export function errorReason(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

/**
 * Runs a handler with the shared settle rules: returning without settling acks; throwing naks with
 * backoff, or dead-letters on the last allowed delivery; a delivery beyond maxDeliver is dead-lettered
 * without running the handler. Settling twice is a no-op (first wins).
 * Errors while settling are reported, never thrown: the message will simply come back.
 */
export async function runHandler<T>(
  message: BusMessage<T>,
  handler: Handler<T>,
  limits: { maxDeliver: number; backoffMs: number[] },
  onError: (error: unknown, context: string) => void,
): Promise<void> {
  try {
    if (message.deliveryCount > limits.maxDeliver) {
      // Earlier deliveries ended without a settle (process died, ack wait expired): do not run it again.
      await message.deadLetter(`Delivered ${message.deliveryCount - 1} times without completing`);
      return;
    }
    try {
      await handler(message);
    } catch (error) {
      if (message.deliveryCount >= limits.maxDeliver) {
        await message.deadLetter(errorReason(error));
      } else {
        await message.nak(backoffDelay(limits.backoffMs, message.deliveryCount));
      }
      return;
    }
    await message.ack();
  } catch (error) {
    onError(error, `settling ${message.subject} (${message.id})`);
  }
}

/**
 * Waits for in-flight jobs (each: its handler's promise → how to hand it back); after handBackAfterMs, hands back
 * those still running and returns without waiting for them.
 */
export async function drainInFlight(
  jobs: Map<Promise<void>, () => Promise<void>>,
  handBackAfterMs: number | undefined,
  onError: (error: unknown, context: string) => void,
): Promise<void> {
  const all = Promise.all(jobs.keys()).then(() => true);
  if (handBackAfterMs === undefined) return void (await all);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), handBackAfterMs)));
  const finished = await Promise.race([all, deadline]);
  clearTimeout(timer);
  if (finished) return;
  await Promise.all([...jobs.values()].map((handBack) => handBack().catch((error: unknown) => onError(error, 'handing back a job at shutdown'))));
}

/** Wraps ack/nak/deadLetter so only the first settle takes effect. */
export function settleOnce<T>(
  message: Omit<BusMessage<T>, 'ack' | 'nak' | 'deadLetter'>,
  settle: { ack(): Promise<void>; nak(delayMs: number): Promise<void>; deadLetter(reason: string): Promise<void> },
): BusMessage<T> {
  let settled = false;
  const once =
    <A extends unknown[]>(fn: (...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      if (settled) return;
      settled = true;
      await fn(...args);
    };
  return {
    ...message,
    ack: once(() => settle.ack()),
    nak: once((delayMs?: number) => settle.nak(Math.max(0, delayMs ?? 0))),
    // A header value cannot hold line breaks (JetStream); keep both adapters alike.
    deadLetter: once((reason: string) => settle.deadLetter(reason.replace(/[\r\n]+/g, ' ').slice(0, 1_000))),
  };
}
