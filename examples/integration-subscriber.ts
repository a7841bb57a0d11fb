/**
 * How a sibling module (CRM, accounting) follows the communication module's integration events.
 *
 *   npx tsx examples/integration-subscriber.ts --module crm
 *   npx tsx examples/integration-subscriber.ts --module accounting --from-seq 1
 *   npx tsx examples/integration-subscriber.ts --module crm --from-time 2025-06-01T00:00:00Z
 *
 * Options: --servers (default $NATS_URL or nats://127.0.0.1:4222), --stream (default $COMM_EVENTS_STREAM or
 * COMM_EVENTS), --prefix (default communication.events). Ctrl-C stops.
 *
 * - Each module has its own durable pull consumer, named after it: the stream keeps every message, so modules do not
 *   take messages from one another, and a module that was down resumes where it acked last.
 * - Acks are explicit, sent after the work is done: a crash in between means the message comes again.
 * - So a message can come twice (that, or the publisher republishing after its duplicate window): de-duplicate on the
 *   envelope's id. Here in memory; in a real module, a table keyed by event id written in the same transaction as the
 *   effect.
 * - --from-seq / --from-time replay: the durable is recreated to start there (to rebuild a read model, say).
 */
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, type ConsumerConfig, type JsMsg } from '@nats-io/jetstream';

interface Envelope {
  id: string;
  type: string;
  schema_version: number;
  occurred_at: string;
  correlation_id: string | null;
  causation_id: string | null;
  aggregate_id: string;
  data: Record<string, unknown>;
}

const { values: options } = parseArgs({
  options: {
    module: { type: 'string' },
    'from-seq': { type: 'string' },
    'from-time': { type: 'string' },
    servers: { type: 'string', default: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    stream: { type: 'string', default: process.env.COMM_EVENTS_STREAM ?? 'COMM_EVENTS' },
    prefix: { type: 'string', default: 'communication.events' },
  },
});

const prefix = options.prefix;
/** What each module listens to, and what it does with an event. */
const modules: Record<string, { subjects: string[]; handle: (event: Envelope) => void }> = {
  accounting: {
    subjects: [`${prefix}.*.*`],
    handle(event) {
      if (event.type === 'CampaignCreated') console.log(`  budget of campaign ${event.aggregate_id}: ${String(event.data.budget)} EUR`);
      if (event.type === 'NotificationSent') console.log(`  one ${String(event.data.provider)} message to invoice`);
    },
  },
  crm: {
    subjects: [`${prefix}.notification.>`, `${prefix}.consent.>`],
    handle(event) {
      // The CRM finds the customer by the hash of their address and channel: sha256("marie@example.fr:email").
      const customer = String(event.data.recipient_hash ?? '');
      if (event.type === 'ConsentWithdrawn' || event.type === 'RecipientSuppressed') console.log(`  customer ${customer.slice(0, 12)}… no longer takes marketing`);
      if (event.type === 'NotificationClicked') console.log(`  notification ${event.aggregate_id} clicked: ${String(event.data.url)}`);
    },
  },
};

const subscriber = modules[options.module ?? ''];
if (!subscriber) {
  console.error(`--module must be one of: ${Object.keys(modules).join(', ')}`);
  process.exit(2);
}
const durable = `${options.module}-communication`;

const nc = await connect({ servers: options.servers.split(','), name: durable });
const jsm = await jetstreamManager(nc);
if (!(await jsm.streams.find(`${prefix}.>`).catch(() => null))) {
  console.error(`No stream holds ${prefix}.>: is the communication module running with NATS_URL set?`);
  await nc.close();
  process.exit(1);
}

const start: Partial<ConsumerConfig> = options['from-seq']
  ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Number(options['from-seq']) }
  : options['from-time']
    ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(options['from-time']).toISOString() }
    : { deliver_policy: DeliverPolicy.All };
const replay = options['from-seq'] !== undefined || options['from-time'] !== undefined;
const exists = await jsm.consumers.info(options.stream, durable).then(
  () => true,
  (error: unknown) => (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound ? false : Promise.reject(error)),
);
// A durable's starting point cannot change: replaying means starting a new one. Without a replay, an existing durable
// resumes after the last message it acked.
if (exists && replay) await jsm.consumers.delete(options.stream, durable);
if (!exists || replay) {
  // Several filters on one consumer need NATS 2.10 or later (docker-compose.yml runs 2.11).
  const filter = subscriber.subjects.length === 1 ? { filter_subject: subscriber.subjects[0] } : { filter_subjects: subscriber.subjects };
  await jsm.consumers.add(options.stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, ...filter, ...start });
}

const processed = new Set<string>();
const messages = await (await jetstream(nc).consumers.get(options.stream, durable)).consume();
process.once('SIGINT', () => void messages.close());
console.log(`${durable}: following ${subscriber.subjects.join(', ')} on ${options.stream}`);

for await (const m of messages) await handle(m);
await nc.drain();

async function handle(m: JsMsg): Promise<void> {
  const event = m.json<Envelope>();
  if (processed.has(event.id)) {
    console.log(`#${m.seq} ${event.type} ${event.id}: already processed, acked again`);
  } else if (event.schema_version !== 1) {
    // A version this consumer does not know yet: keep it for after the upgrade instead of misreading it.
    console.warn(`#${m.seq} ${event.type} v${event.schema_version}: unknown version, left for later`);
    m.nak(60_000);
    return;
  } else {
    console.log(`#${m.seq} ${m.subject} ${event.id} (correlation ${m.headers?.get('Correlation-Id') ?? '-'})`);
    subscriber!.handle(event);
    processed.add(event.id);
  }
  await m.ackAck();
}
