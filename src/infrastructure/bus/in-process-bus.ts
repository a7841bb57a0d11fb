/**
 * The embedded bus (no server): the same work-queue semantics as the JetStream adapter, in memory.
 * Nothing survives the process, so it suits tests, development and single-process deployments.
 */
import {
  consumeDefaults,
  DEAD_LETTER_HEADERS,
  deadLetterSubject,
  DEFAULT_DUPLICATE_WINDOW_MS,
  deadLettersOf,
  drainInFlight,
  DEFAULT_SUBJECT_PREFIX,
  encodePublish,
  filtersOverlap,
  runHandler,
  settleOnce,
  subjectMatches,
  validateConsume,
  type BusStats,
  type ConsumeOptions,
  type Consumer,
  type Handler,
  type MessageBus,
  type StopOptions,
} from './message-bus.js';

export interface InProcessBusOptions {
  subjectPrefix?: string;
  duplicateWindowMs?: number;
  /** Where errors that cannot be thrown to a caller go (a settle failing). Default: console.error. */
  onError?: (error: unknown, context: string) => void;
}

interface Stored {
  id: string;
  subject: string;
  json: string;
  headers: Record<string, string>;
  deliveries: number;
  /** held: a handler has it; delayed: waiting for its backoff; gone: acked or dead-lettered. */
  state: 'ready' | 'held' | 'delayed' | 'gone';
}

interface Worker {
  free: number;
  /** Each handler's promise → how to hand its message back. */
  inFlight: Map<Promise<void>, () => Promise<void>>;
  run(message: Stored): { done: Promise<void>; handBack(): Promise<void> };
}

/** A durable: outlives its workers, like a JetStream durable consumer. */
interface Group {
  subjects: string[];
  workers: Worker[];
  next: number;
  /** Its messages ready for delivery, oldest first (entries no longer ready are skipped when reached). */
  ready: Queue;
}

/** A FIFO whose take is O(1) (Array.shift is not, on tens of thousands of jobs). */
class Queue {
  private items: Stored[] = [];
  private head = 0;

  push(message: Stored): void {
    this.items.push(message);
  }

  take(): Stored | undefined {
    const message = this.items[this.head];
    if (message === undefined) return undefined;
    this.items[this.head++] = undefined as unknown as Stored;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return message;
  }

  drain(): Stored[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}

export function createInProcessBus(options: InProcessBusOptions = {}): MessageBus {
  const prefix = options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
  const windowMs = options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS;
  const onError = options.onError ?? ((error, context) => console.error(`[in-process bus] ${context}`, error));
  // Work-queue storage: a message stays here, in publish order, until acked or dead-lettered.
  const stored = new Set<Stored>();
  // Ready messages no durable's filter matches yet: they wait for a consumer, as on a JetStream work-queue stream.
  let unrouted: Stored[] = [];
  // Which durable takes a subject (filters of durables do not overlap, so at most one).
  const routes = new Map<string, Group | null>();
  // msgId -> expiry; insertion order is expiry order since the window is constant.
  const seen = new Map<string, number>();
  const groups = new Map<string, Group>();
  const timers = new Set<NodeJS.Timeout>();
  const stops = new Set<() => Promise<void>>();
  let closed = false;
  let closing: Promise<void> | undefined;
  let pumpScheduled = false;

  function store(subject: string, json: string, headers: Record<string, string>, id: string): boolean {
    const now = Date.now();
    for (const [key, expiry] of seen) {
      if (expiry > now) break;
      seen.delete(key);
    }
    if (seen.has(id)) return false;
    seen.set(id, now + windowMs);
    const message: Stored = { id, subject, json, headers, deliveries: 0, state: 'delayed' };
    stored.add(message);
    makeReady(message);
    return true;
  }

  function remove(message: Stored): void {
    message.state = 'gone';
    stored.delete(message);
  }

  function groupOf(subject: string): Group | null {
    let group = routes.get(subject);
    if (group === undefined) {
      group = [...groups.values()].find((g) => g.subjects.some((f) => subjectMatches(f, subject))) ?? null;
      routes.set(subject, group);
    }
    return group;
  }

  function makeReady(message: Stored): void {
    if (message.state === 'gone') return;
    message.state = 'ready';
    const group = groupOf(message.subject);
    if (group) group.ready.push(message);
    else unrouted.push(message);
    schedulePump();
  }

  /** A durable appeared or changed its filter: every ready message finds its queue again. */
  function reroute(): void {
    routes.clear();
    const waiting = [...unrouted, ...[...groups.values()].flatMap((g) => g.ready.drain())];
    unrouted = [];
    // Publish order, as the messages were stored.
    const order = new Map([...stored].map((m, index) => [m, index]));
    waiting.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
    for (const message of new Set(waiting)) if (message.state === 'ready') makeReady(message);
  }

  // Deliver from a microtask, so publish() and settles never run handlers synchronously.
  function schedulePump(): void {
    if (pumpScheduled || closed) return;
    pumpScheduled = true;
    queueMicrotask(() => {
      pumpScheduled = false;
      pump();
    });
  }

  function pump(): void {
    for (const group of groups.values()) {
      for (let worker = takeWorker(group); worker; worker = takeWorker(group)) {
        let message = group.ready.take();
        while (message && message.state !== 'ready') message = group.ready.take();
        if (!message) break;
        message.state = 'held';
        message.deliveries += 1;
        const taken = worker;
        taken.free -= 1;
        const job = taken.run(message);
        const done = job.done.finally(() => {
          taken.free += 1;
          taken.inFlight.delete(done);
          schedulePump();
        });
        taken.inFlight.set(done, job.handBack);
      }
    }
  }

  /** Round robin over the group's workers that have a free slot. */
  function takeWorker(group: Group): Worker | undefined {
    for (let i = 0; i < group.workers.length; i++) {
      const worker = group.workers[(group.next + i) % group.workers.length];
      if (worker && worker.free > 0) {
        group.next = (group.next + i + 1) % group.workers.length;
        return worker;
      }
    }
    return undefined;
  }

  function redeliverLater(message: Stored, delayMs: number): void {
    if (message.state === 'gone') return;
    if (delayMs === 0) {
      makeReady(message);
      return;
    }
    message.state = 'delayed';
    const timer = setTimeout(() => {
      timers.delete(timer);
      makeReady(message);
    }, delayMs);
    timer.unref(); // a pending retry must not keep the process alive
    timers.add(timer);
  }

  function ensureOpen(): void {
    if (closed) throw new Error('The bus is closed');
  }

  return {
    subjectPrefix: prefix,

    deadLetterSubject: (subject) => deadLetterSubject(prefix, subject),

    async publish(subject, data, publishOptions) {
      ensureOpen();
      const json = encodePublish(prefix, subject, data, publishOptions);
      const fresh = store(subject, json, { ...publishOptions.headers }, publishOptions.msgId);
      return { duplicate: !fresh };
    },

    async consume<T>(consumeOptions: ConsumeOptions, handler: Handler<T>): Promise<Consumer> {
      ensureOpen();
      validateConsume(consumeOptions);
      const { durable, subjects } = consumeOptions;
      // Same rule as a JetStream work-queue stream: one durable per subject, or who would get the message?
      for (const [name, other] of groups) {
        const clash = other.subjects.find((a) => subjects.some((b) => filtersOverlap(a, b)));
        if (name !== durable && clash) throw new Error(`Filter of durable '${durable}' overlaps '${name}' (${clash})`);
      }
      const known = groups.get(durable);
      const group = known ?? { subjects, workers: [], next: 0, ready: new Queue() };
      const changed = !known || known.subjects.join('\n') !== subjects.join('\n');
      group.subjects = [...subjects];
      groups.set(durable, group);
      if (changed) reroute();
      const limits = {
        maxDeliver: consumeOptions.maxDeliver ?? consumeDefaults.maxDeliver,
        backoffMs: consumeOptions.backoffMs ?? consumeDefaults.backoffMs,
      };

      const worker: Worker = {
        free: consumeOptions.concurrency ?? consumeDefaults.concurrency,
        inFlight: new Map(),
        run: (stored) => {
          const message = settleOnce<T>(
            {
              id: stored.id,
              subject: stored.subject,
              data: JSON.parse(stored.json) as T,
              headers: { ...stored.headers },
              deliveryCount: stored.deliveries,
            },
            {
              ack: async () => remove(stored),
              nak: async (delayMs) => redeliverLater(stored, delayMs),
              deadLetter: async (reason) => {
                remove(stored);
                store(
                  deadLetterSubject(prefix, stored.subject),
                  stored.json,
                  {
                    ...stored.headers,
                    [DEAD_LETTER_HEADERS.reason]: reason,
                    [DEAD_LETTER_HEADERS.subject]: stored.subject,
                    [DEAD_LETTER_HEADERS.deliveryCount]: String(stored.deliveries),
                  },
                  `dead:${stored.id}`,
                );
              },
            },
          );
          return { done: runHandler(message, handler, limits, onError), handBack: () => message.nak() };
        },
      };
      group.workers.push(worker);
      schedulePump();

      let stopping: Promise<void> | undefined;
      const stop = (stopOptions: StopOptions = {}): Promise<void> =>
        (stopping ??= (async () => {
          group.workers = group.workers.filter((w) => w !== worker);
          await drainInFlight(worker.inFlight, stopOptions.handBackAfterMs, onError);
          stops.delete(stop);
        })());
      stops.add(stop);
      return { stop };
    },

    async ping() {
      ensureOpen();
    },

    async stats(): Promise<BusStats> {
      const deadPrefix = `${prefix}.dead.`;
      const dead = new Map<string, number>();
      for (const message of stored) {
        if (!message.subject.startsWith(deadPrefix)) continue;
        const original = message.subject.slice(deadPrefix.length);
        dead.set(original, (dead.get(original) ?? 0) + 1);
      }
      const queues = [...groups].map(([name, group]) => {
        const mine = [...stored].filter((m) => group.subjects.some((f) => subjectMatches(f, m.subject)));
        return {
          name,
          subjects: [...group.subjects],
          pending: mine.filter((m) => m.state === 'ready' && m.deliveries === 0).length,
          ackPending: mine.filter((m) => m.deliveries > 0).length,
          redelivered: mine.filter((m) => m.deliveries > 1).length,
          deadLetters: deadLettersOf(group.subjects, dead),
        };
      });
      return { queues, deadLetters: [...dead.values()].reduce((sum, n) => sum + n, 0) };
    },

    close() {
      closing ??= (async () => {
        closed = true; // refuse new work at once; in-flight handlers may still settle
        await Promise.all([...stops].map((stop) => stop()));
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
      })();
      return closing;
    },
  };
}
