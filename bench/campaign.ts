import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { CommandHandler, seededUuid, type CommandContext } from '../src/commands/command-handler.js';
import { consentDecider, consentEvents, consentStreamId, type ConsentCommand, type ConsentEvent, type ConsentState } from '../src/domain/consent.js';
import { createKysely } from '../src/infrastructure/database/kysely.js';
import { createPostgresClient } from '../src/infrastructure/database/postgres-client.js';
import { createPostgresEventStore } from '../src/infrastructure/event-store/postgres-event-store.js';
import type { StreamAppend } from '../src/infrastructure/event-store/event-store.js';
import { CRM_SOURCE } from '../src/integration/crm/crm-consumer.js';
import { AudienceWriter } from '../src/projections/audience/audience-writer.js';
import { campaignNotificationId } from '../src/reactors/campaigns/campaign-fanout.js';
import { startMinimalSendGrid } from './doubles/minimal-sendgrid.js';
import { runStreams } from './nats-streams.js';
import { sampleRss, sendGridConfigDir, startDeployment, type Deployment, type RssFigures, waitUntilCaughtUp } from './deployment.js';

export interface CampaignBench {
  recipients: number;
  /** How the audience and the consents were written, and how long until the service showed them all. */
  setup: { way: SeedWay; ms: number };
  /** Launch call → the first notification of the campaign reaches the SendGrid double (fan-out and pipeline latency). */
  firstMs: number;
  /** Launch call → the SendGrid double holds every notification of the campaign. */
  handedOverMs: number;
  /** Launch call → GET /analytics?campaign_id reports every one sent. */
  analyticsMs: number;
  sendPerSecond: number;
  rssMb: RssFigures;
  bus: string;
}

/**
 * - direct (default): the bench process writes through the project's own code: AudienceWriter (the CRM consumer's
 *   writer) for the customers and the segment, and the consent decider's events (RecordConsent, source "crm", event ids
 *   seeded from a CRM event id as the consumer seeds them) appended 2,000 streams per appendMany; the consents read
 *   model is then the service's projector's work.
 * - crm: the CRM events (docs/asyncapi.yaml, inbound) published on the CRM's NATS subjects, consumed by the worker.
 *
 * Why direct: the CRM consumer is an ordered durable (src/integration/crm/crm-consumer.ts: `concurrency: 1`,
 * `ordered: true`, hence max_ack_pending 1), so every message is a pull, a handling (a consent is a stream read, an
 * append and an inbox transaction) and an ack, one after the other. Measured on this machine (2 cores, shared): the
 * 4,001 messages of a 2,000-recipient audience took 120 s, about 33 messages/s; the 200,005 of a 100,000-recipient
 * audience would take over an hour and a half. The direct way seeded 10,000 recipients in about 15 s, the consents
 * projection's catch-up included. The crm way stays here (BENCH_CAMPAIGN_SEED=crm) to measure that path.
 */
export type SeedWay = 'direct' | 'crm';

const TEMPLATE = 'bench_campaign';
const SEGMENT = 'bench-campaign';
const PAGE = 2_000;

/**
 * A campaign to `recipients` e-mail recipients, on the service as deployed: API, projector and worker processes on
 * NATS JetStream (one process on the in-process bus), SendGrid pointed at a minimal local double; the memory figures
 * are the worker's.
 * 1. Setup, not timed: `recipients` CRM customers in one segment, each with an e-mail address and an e-mail marketing
 *    consent (see SeedWay), until POST /audience/preview counts every one of them as consented.
 * 2. Timed from the launch call: a draft campaign with one e-mail channel (a marketing template using
 *    {{customer.first_name}}) targeting the segment is launched; done when (a) the double has received the notification
 *    of every recipient (the ids are campaignNotificationId's) and (b) GET /analytics?campaign_id reports them all sent.
 */
export async function benchCampaign(databaseUrl: string, natsUrl: string | undefined, recipients = 100_000, way: SeedWay = 'direct'): Promise<CampaignBench> {
  if (way === 'crm' && !natsUrl) throw new Error('the crm way publishes the CRM events on NATS: it needs NATS_URL');
  const double = await startMinimalSendGrid();
  // A file template is marketing unless it is one of the transactional ones (template-catalogue.ts); a campaign's
  // notification is marketing anyway, so consent is checked for every recipient.
  const configDir = await sendGridConfigDir(double.url, {
    [TEMPLATE]: {
      subject: '{{customer.first_name}}, la semaine de la truffe au Vieux Moulin',
      body_html: '<p>Bonjour {{customer.first_name}},</p><p>Du 1er au 7 décembre, un menu autour de la truffe noire.</p>',
    },
  });
  const streams = runStreams('campaign');

  let deployment: Deployment | undefined;
  let memory: ReturnType<typeof sampleRss> | undefined;
  const sql = await createPostgresClient({ connectionString: databaseUrl, maxConnections: 16 });
  try {
    // Started before the seeding: their migrations create the tables it writes.
    deployment = await startDeployment({ DATABASE_URL: databaseUrl, NATS_URL: natsUrl ?? '', COMM_CONFIG_DIR: configDir, ...streams.env });
    const { url, key } = deployment.api;
    const worker = deployment.processes.at(-1)!.child;
    const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
      return JSON.parse(text) as T;
    };

    // 1. Setup
    const customers = Array.from({ length: recipients }, (_, i) => ({
      customer_id: randomUUID(),
      email: `client${i}@example.fr`,
      phone: null,
      first_name: `Client ${i}`,
      last_name: null,
      language: 'fr',
    }));
    const setupStarted = performance.now();
    if (way === 'direct') await seedDirect(sql, customers);
    else await seedThroughCrm(natsUrl!, streams.env.COMM_CRM_SUBJECT_PREFIX, customers);
    const consented = async () => {
      const response = await fetch(`${url}/api/communication/audience/preview`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ target_audience: { segment: SEGMENT } }),
      });
      // Through the CRM, the segment comes after its customers: unknown until then.
      if (response.status === 422) return 0;
      if (!response.ok) throw new Error(`audience preview answered ${response.status}: ${await response.text()}`);
      return ((await response.json()) as { per_channel: { email: { consented: number } } }).per_channel.email.consented;
    };
    const setupDeadline = Date.now() + 60 * 60_000;
    for (let seen = await consented(); seen < recipients; seen = await consented()) {
      if (Date.now() > setupDeadline) throw new Error(`only ${seen} of ${recipients} recipients consented within the hour`);
      await new Promise((r) => setTimeout(r, 500));
    }
    // The setup's events (a consent per customer) are still being followed by other projections and reactors, and its
    // writes are still to be checkpointed: both would be billed to the campaign. Let them finish first (not timed).
    await waitUntilCaughtUp(url, key);
    await sql.query('CHECKPOINT').catch(() => undefined);
    const setupMs = performance.now() - setupStarted;

    memory = sampleRss(worker.pid, () => double.received.size / recipients);

    // 2. Timed: from the launch call
    const now = Date.now();
    const { campaign_id: campaignId } = await call<{ campaign_id: string }>('POST', '/api/communication/campaigns', {
      name: 'Semaine de la truffe',
      start_date: new Date(now - 60_000).toISOString(),
      end_date: new Date(now + 7 * 86_400_000).toISOString(),
      target_audience: { segment: SEGMENT },
      budget: 1_000,
      channels: [{ type: 'email', content_template: TEMPLATE }],
    });
    const expected = customers.map((c) => campaignNotificationId(campaignId, 0, c.customer_id));
    const launchedAt = Date.now();
    await call('POST', `/api/communication/campaigns/${campaignId}/launch`, {});

    const deadline = launchedAt + 15 * 60_000;
    let handedOverAt: number | null = null;
    let firstAt = Number.POSITIVE_INFINITY;
    let analyticsAt: number | null = null;
    let analyticsAskedAt = 0;
    const analyticsPath = `/api/communication/analytics?campaign_id=${campaignId}&from=${new Date(now - 86_400_000).toISOString().slice(0, 10)}`;
    while (handedOverAt === null || analyticsAt === null) {
      if (Date.now() > deadline) {
        throw new Error(`not done within 15 minutes: ${expected.filter((id) => double.received.has(id)).length} of ${recipients} at the double, analytics ${analyticsAt === null ? 'behind' : 'done'}`);
      }
      await new Promise((r) => setTimeout(r, 100));
      if (handedOverAt === null && double.received.size >= recipients) {
        // The double keeps when each id first reached it: the last of the campaign's is when (a) was met.
        let last = 0;
        let first = Number.POSITIVE_INFINITY;
        let missing = false;
        for (const id of expected) {
          const at = double.received.get(id);
          if (at === undefined) {
            missing = true;
            break;
          }
          last = Math.max(last, at);
          first = Math.min(first, at);
        }
        if (!missing) {
          handedOverAt = last;
          firstAt = first;
        }
      }
      // Every 250 ms: the query is the API's and PostgreSQL's work, taken from the two cores the pipeline runs on.
      if (analyticsAt === null && Date.now() - analyticsAskedAt >= 250) {
        analyticsAskedAt = Date.now();
        const { totals } = await call<{ totals: { sent: number; failed: number; skipped: number } }>('GET', analyticsPath);
        // A recipient skipped (no consent) or failed never counts as sent: say why instead of waiting for the deadline.
        if (totals.skipped + totals.failed > 0) throw new Error(`campaign notifications not sent: ${totals.skipped} skipped, ${totals.failed} failed`);
        if (totals.sent >= recipients) analyticsAt = Date.now();
      }
    }
    const rssMb = memory.stop();
    return {
      recipients,
      setup: { way, ms: Math.round(setupMs) },
      firstMs: firstAt - launchedAt,
      handedOverMs: handedOverAt - launchedAt,
      analyticsMs: analyticsAt - launchedAt,
      sendPerSecond: Math.round((recipients / (handedOverAt - launchedAt)) * 1000),
      rssMb,
      bus: natsUrl ? 'nats-jetstream' : 'in-process',
    };
  } finally {
    memory?.stop();
    await sql.close().catch(() => undefined);
    await deployment?.stop();
    await double.stop();
    if (natsUrl) await streams.delete(natsUrl);
  }
}

interface Customer {
  customer_id: string;
  email: string;
  phone: null;
  first_name: string;
  last_name: null;
  language: string;
}

/**
 * What the CRM consumer does for CustomerCreated, SegmentMembershipChanged and ConsentChanged, through the same code,
 * without the one-message-at-a-time consumer in front: each customer is its own CRM event written by AudienceWriter
 * (16 at a time), the segment one event, and the consents the consent decider's events, 2,000 streams per appendMany.
 */
async function seedDirect(sql: Awaited<ReturnType<typeof createPostgresClient>>, customers: Customer[]): Promise<void> {
  const audience = new AudienceWriter(createKysely(sql));
  const at = new Date().toISOString();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < customers.length) {
        const customer = customers[next++]!;
        await audience.upsertCustomer({ id: randomUUID(), type: 'CustomerCreated', occurred_at: at }, customer);
      }
    }),
  );
  await audience.changeSegment(
    { id: randomUUID(), type: 'SegmentMembershipChanged' },
    { segment_id: SEGMENT, segment_name: 'Bench campaign', added: customers.map((c) => c.customer_id), removed: [], at },
  );

  const store = await createPostgresEventStore(sql);
  const consents = new CommandHandler<ConsentCommand, ConsentEvent, ConsentState>(store, consentDecider, consentEvents);
  try {
    for (let start = 0; start < customers.length; start += PAGE) {
      const appends: StreamAppend[] = customers.slice(start, start + PAGE).map((customer) => {
        // As CrmConsumer.recordConsent: the context and event ids of the ConsentChanged event it would have handled.
        const crmEventId = randomUUID();
        const context: CommandContext = { correlationId: crmEventId, causationId: crmEventId, actor: 'crm', now: new Date() };
        const events = consentDecider.decide(
          { type: 'RecordConsent', recipient: customer.email, channel: 'email', granted: true, source: CRM_SOURCE, now: at },
          consentDecider.initialState(),
        );
        return {
          streamId: consentStreamId(customer.email, 'email'),
          events: events.map((event, index) => consents.toEventData(event, context, seededUuid(`crm:${crmEventId}#${index}`))),
          expectedRevision: 'no_stream',
        };
      });
      await store.appendMany(appends);
    }
  } finally {
    await store.close();
  }
}

/**
 * The CRM events as the CRM publishes them (docs/asyncapi.yaml): a CustomerCreated and a ConsentChanged per customer,
 * then the segment's members, 10,000 per SegmentMembershipChanged (well under NATS's 1 MB message limit).
 */
async function seedThroughCrm(natsUrl: string, prefix: string, customers: Customer[]): Promise<void> {
  const nc = await connect({ servers: natsUrl.split(','), name: 'comm-bench-crm' });
  try {
    const js = jetstream(nc);
    const at = new Date().toISOString();
    const envelope = (type: string, data: unknown) => ({ id: randomUUID(), type, schema_version: 1, occurred_at: at, data });
    const messages: { subject: string; body: ReturnType<typeof envelope> }[] = customers.flatMap((customer) => [
      { subject: `${prefix}.customers.created`, body: envelope('CustomerCreated', customer) },
      {
        subject: `${prefix}.consents.changed`,
        body: envelope('ConsentChanged', { customer_id: customer.customer_id, channel: 'email', recipient: customer.email, status: 'granted', source: 'website_form', at }),
      },
    ]);
    for (let start = 0; start < customers.length; start += 10_000) {
      const added = customers.slice(start, start + 10_000).map((c) => c.customer_id);
      messages.push({ subject: `${prefix}.segments.membership_changed`, body: envelope('SegmentMembershipChanged', { segment_id: SEGMENT, segment_name: 'Bench campaign', added, removed: [], at }) });
    }
    // In order (the consumer applies them in stream order), a window of acks in flight.
    const window = new Set<Promise<unknown>>();
    for (const { subject, body } of messages) {
      const publishing: Promise<unknown> = js.publish(subject, JSON.stringify(body), { msgID: body.id }).finally(() => window.delete(publishing));
      window.add(publishing);
      if (window.size >= 256) await Promise.race(window);
    }
    await Promise.all(window);
  } finally {
    await nc.close();
  }
}

