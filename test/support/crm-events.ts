import { randomBytes, randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { App } from '../../src/app.js';
import { natsUrl } from './databases.js';

/**
 * CRM events as the CRM module publishes them (docs/asyncapi.yaml, inbound channels), and the environment that gives
 * a test app a CRM stream of its own on NATS (NATS_URL set), so suites running side by side do not read each other's.
 */
export function crmEnv(): Record<string, string> {
  if (!natsUrl) return {};
  const id = randomBytes(4).toString('hex');
  return {
    NATS_URL: natsUrl,
    COMM_NATS_STREAM: `TEST_JOBS_${id}`,
    COMM_NATS_SUBJECT_PREFIX: `jobs${id}`,
    COMM_EVENTS_STREAM: `TEST_EVENTS_${id}`,
    COMM_EVENTS_SUBJECT_PREFIX: `events${id}`,
    COMM_CRM_STREAM: `TEST_CRM_${id}`,
    COMM_CRM_SUBJECT_PREFIX: `crm${id}`,
  };
}

/** Deletes the NATS streams crmEnv() named (a shared NATS server would otherwise keep them after the suite). */
export async function deleteCrmEnvStreams(env: Record<string, string>): Promise<void> {
  if (!natsUrl || !env.COMM_NATS_STREAM) return;
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    for (const name of [env.COMM_NATS_STREAM, env.COMM_EVENTS_STREAM, env.COMM_CRM_STREAM]) if (name) await jsm.streams.delete(name).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

const subjects = {
  CustomerCreated: 'customers.created',
  CustomerUpdated: 'customers.updated',
  CustomerDeleted: 'customers.deleted',
  ConsentChanged: 'consents.changed',
  SegmentMembershipChanged: 'segments.membership_changed',
} as const;

export interface CrmEvent {
  id: string;
  type: keyof typeof subjects;
  schema_version: 1;
  occurred_at: string;
  correlation_id: null;
  causation_id: null;
  data: Record<string, unknown>;
}

export function crmEvent(type: CrmEvent['type'], data: Record<string, unknown>, occurredAt = new Date().toISOString()): CrmEvent {
  return { id: randomUUID(), type, schema_version: 1, occurred_at: occurredAt, correlation_id: null, causation_id: null, data };
}

export function customer(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { customer_id: randomUUID(), email: null, phone: null, first_name: null, last_name: null, language: 'fr', ...overrides };
}

/** Publishes on the CRM subject of the event's type; msgId defaults to the event id, as the CRM sends it. */
export async function publishCrm(app: App, event: CrmEvent | Record<string, unknown>, options: { type?: CrmEvent['type']; msgId?: string } = {}): Promise<void> {
  const bus = app.crm!.bus;
  const type = options.type ?? (event as CrmEvent).type;
  await bus.publish(`${bus.subjectPrefix}.${subjects[type]}`, event, { msgId: options.msgId ?? String((event as CrmEvent).id ?? randomUUID()) });
}

/** Polls until check() returns a value (not undefined) or the time runs out. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
