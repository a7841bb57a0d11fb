import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CommandHandler } from '../../../../src/commands/command-handler.js';
import { consentDecider, consentEvents, consentStreamId, suppressionReasons, type ConsentCommand } from '../../../../src/domain/consent.js';
import type { NotificationChannel } from '../../../../src/domain/notification.js';
import { createKysely, migrateToLatest } from '../../../../src/infrastructure/database/kysely.js';
import { createPostgresEventStore } from '../../../../src/infrastructure/event-store/postgres-event-store.js';
import { createLogger } from '../../../../src/infrastructure/logging/logger.js';
import {
  ConsentPolicy,
  decideConsent,
  messageKindOf,
  type ConsentCheck,
  type ConsentSnapshot,
} from '../../../../src/platforms/notifications/compliance/consent-policy.js';
import { checkpointMigrations } from '../../../../src/projections/checkpoints.js';
import { consentsProjection } from '../../../../src/projections/consents/consents-projection.js';
import { ConsentsReader } from '../../../../src/projections/consents/consents-reader.js';
import { Projector } from '../../../../src/projections/projector.js';
import { rebuildProjection } from '../../../../src/projections/rebuild.js';
import { testDatabases } from '../../../support/databases.js';

// Tuesday 12 May 2026, 14:00 Paris: inside the SMS window. 21:00 Paris: outside.
const AFTERNOON = new Date('2026-05-12T12:00:00Z');
const EVENING = new Date('2026-05-12T19:00:00Z');

const check = (channel: NotificationChannel, kind: ConsentCheck['kind'], at = AFTERNOON): ConsentCheck => ({
  recipient: channel === 'sms' ? '+33612345678' : 'marie@example.fr',
  channel,
  kind,
  at,
});
const snapshot = (granted: boolean | null, ...reasons: (typeof suppressionReasons)[number][]): ConsentSnapshot => ({
  granted,
  source: granted === null ? null : 'website_form',
  suppressions: reasons.map((reason) => ({ reason, source: 'sendgrid' })),
});

describe('decideConsent', () => {
  it('an erased address gets nothing, marketing or transactional, whatever was recorded before', () => {
    for (const kind of ['marketing', 'transactional'] as const) {
      expect(decideConsent({ ...snapshot(true), erased: true }, check('email', kind))).toEqual({
        send: false,
        skip: 'suppressed',
        detail: 'email recipient erased (GDPR erasure request): blocks every message',
      });
    }
    expect(decideConsent({ ...snapshot(true), erased: false }, check('email', 'marketing'))).toEqual({ send: true });
  });

  it('marketing needs granted consent', () => {
    expect(decideConsent(snapshot(true), check('email', 'marketing'))).toEqual({ send: true });
    expect(decideConsent(null, check('email', 'marketing'))).toEqual({ send: false, skip: 'no_consent', detail: 'no marketing consent recorded on email' });
    expect(decideConsent(snapshot(null, 'hard_bounce'), check('push', 'transactional'))).toMatchObject({ send: false, skip: 'suppressed' });
    expect(decideConsent(snapshot(null), check('push', 'marketing'))).toMatchObject({ send: false, skip: 'no_consent' });
    expect(decideConsent(snapshot(false), check('email', 'marketing'))).toEqual({
      send: false,
      skip: 'opted_out',
      detail: 'marketing consent on email withdrawn (source website_form)',
    });
  });

  it('transactional messages need no consent', () => {
    expect(decideConsent(null, check('email', 'transactional'))).toEqual({ send: true });
    expect(decideConsent(snapshot(false), check('sms', 'transactional', EVENING))).toEqual({ send: true });
  });

  it.each(['unsubscribe', 'stop'] as const)('%s blocks marketing (opted_out) but not transactional', (reason) => {
    expect(decideConsent(snapshot(true, reason), check('email', 'marketing'))).toEqual({
      send: false,
      skip: 'opted_out',
      detail: `email recipient suppressed (${reason}, source sendgrid): blocks marketing`,
    });
    expect(decideConsent(snapshot(true, reason), check('email', 'transactional'))).toEqual({ send: true });
  });

  it.each(['hard_bounce', 'spam_report'] as const)('%s blocks every message (suppressed), transactional included', (reason) => {
    for (const kind of ['marketing', 'transactional'] as const) {
      expect(decideConsent(snapshot(true, reason), check('email', kind))).toEqual({
        send: false,
        skip: 'suppressed',
        detail: `email recipient suppressed (${reason}, source sendgrid): blocks every message`,
      });
    }
  });

  it('names the most restrictive suppression when there are several', () => {
    expect(decideConsent(snapshot(true, 'unsubscribe', 'spam_report'), check('email', 'marketing'))).toMatchObject({ skip: 'suppressed' });
  });

  it('defers a marketing SMS in quiet hours to the next allowed time, after the consent checks', () => {
    expect(decideConsent(snapshot(true), check('sms', 'marketing', EVENING))).toEqual({ send: false, deferUntil: new Date('2026-05-13T08:00:00Z') });
    expect(decideConsent(snapshot(true), check('sms', 'marketing'))).toEqual({ send: true });
    expect(decideConsent(null, check('sms', 'marketing', EVENING))).toMatchObject({ skip: 'no_consent' });
    // Quiet hours are for SMS only, and for marketing only.
    expect(decideConsent(snapshot(true), check('email', 'marketing', EVENING))).toEqual({ send: true });
    expect(decideConsent(snapshot(true), check('push', 'marketing', EVENING))).toEqual({ send: true });
    expect(decideConsent(null, check('sms', 'transactional', EVENING))).toEqual({ send: true });
  });

  it('takes its quiet hours from the options', () => {
    const options = { quietHours: { end: '22:00' } };
    expect(decideConsent(snapshot(true), check('sms', 'marketing', EVENING), options)).toEqual({ send: true });
  });
});

describe('messageKindOf', () => {
  it('a campaign message is marketing; otherwise the template kind decides, marketing when unknown', () => {
    const campaign_id = '3f1c2b8e-5d4a-4c9b-8f2e-1a2b3c4d5e6f';
    expect(messageKindOf({ campaign_id }, 'transactional')).toBe('marketing');
    expect(messageKindOf({ campaign_id: null }, 'marketing')).toBe('marketing');
    expect(messageKindOf({ campaign_id: null }, 'transactional')).toBe('transactional');
    expect(messageKindOf({ campaign_id: null }, undefined)).toBe('marketing');
  });
});

const logger = createLogger('silent');
type WithoutNow<C> = C extends unknown ? Omit<C, 'now'> : never;

describe.each(testDatabases())('ConsentPolicy on the consents read model ($name)', (database) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => database.cleanup());

  const setup = async () => {
    const sql = await database.create();
    const store = await createPostgresEventStore(sql, { pollIntervalMs: 50 });
    const db = createKysely(sql);
    await migrateToLatest(db, { ...checkpointMigrations, ...consentsProjection.migrations }, sql.schema);
    cleanups.push(() => store.close());
    const handler = new CommandHandler(store, consentDecider, consentEvents);
    const context = { correlationId: 'c', causationId: 'c', actor: 'test', now: new Date('2026-05-04T09:00:00Z') };
    const send = (command: WithoutNow<ConsentCommand>) =>
      handler.handle(consentStreamId(command.recipient, command.channel), { ...command, now: '2026-05-04T09:00:00Z' } as ConsentCommand, context);
    const projector = new Projector(store, db, consentsProjection, logger, { batchSize: 3, retryDelayMs: 20 });
    cleanups.push(() => projector.stop());
    await projector.start();
    const caughtUp = async () => expect(await projector.waitFor((await store.headPosition())!, 5000)).toBe(true);
    return { store, db, send, projector, caughtUp, reader: new ConsentsReader(db) };
  };

  it('reads consents and suppressions as the decider folded them, and decides from them', async () => {
    const s = await setup();
    await s.send({ type: 'RecordConsent', recipient: 'Marie@Example.fr', channel: 'email', granted: true, source: 'website_form' });
    await s.send({ type: 'RecordConsent', recipient: '+33612345678', channel: 'sms', granted: true, source: 'in_restaurant' });
    await s.send({ type: 'SuppressRecipient', recipient: '+33612345678', channel: 'sms', reason: 'stop', source: 'twilio' });
    await s.send({ type: 'SuppressRecipient', recipient: 'jean@example.fr', channel: 'email', reason: 'hard_bounce', source: 'sendgrid' });
    await s.send({ type: 'SuppressRecipient', recipient: 'jean@example.fr', channel: 'email', reason: 'unsubscribe', source: 'unsubscribe_link' });
    await s.caughtUp();

    expect(await s.reader.find(' marie@EXAMPLE.fr', 'email')).toMatchObject({
      recipient: 'marie@example.fr',
      channel: 'email',
      granted: true,
      source: 'website_form',
      consent_at: '2026-05-04T09:00:00.000Z',
      suppressed: false,
      suppression_reason: null,
      suppressions: [],
      revision: 0,
    });
    expect(await s.reader.find('+33612345678', 'sms')).toMatchObject({
      granted: false,
      source: 'twilio',
      suppressed: true,
      suppression_reason: 'stop',
      suppressions: [{ reason: 'stop', source: 'twilio', at: '2026-05-04T09:00:00.000Z' }],
      revision: 2,
    });
    expect(await s.reader.find('jean@example.fr', 'email')).toMatchObject({
      granted: false,
      suppression_reason: 'hard_bounce',
      suppressions: [expect.objectContaining({ reason: 'hard_bounce' }), expect.objectContaining({ reason: 'unsubscribe' })],
    });
    expect(await s.reader.find('marie@example.fr', 'sms')).toBeNull();
    expect((await s.reader.findAll('marie@example.fr')).map((c) => c.channel)).toEqual(['email']);

    const policy = new ConsentPolicy(s.reader);
    expect(await policy.check({ recipient: 'marie@example.fr', channel: 'email', kind: 'marketing', at: AFTERNOON })).toEqual({ send: true });
    expect(await policy.check({ recipient: 'marie@example.fr', channel: 'sms', kind: 'marketing', at: AFTERNOON })).toMatchObject({ skip: 'no_consent' });
    expect(await policy.check({ recipient: '+33612345678', channel: 'sms', kind: 'marketing', at: AFTERNOON })).toMatchObject({ skip: 'opted_out' });
    expect(await policy.check({ recipient: '+33612345678', channel: 'sms', kind: 'transactional', at: EVENING })).toEqual({ send: true });
    expect(await policy.check({ recipient: 'jean@example.fr', channel: 'email', kind: 'transactional', at: AFTERNOON })).toMatchObject({
      skip: 'suppressed',
    });

    // Releasing the hard bounce leaves the unsubscribe: transactional goes again, marketing still does not.
    await s.send({ type: 'ReleaseSuppression', recipient: 'jean@example.fr', channel: 'email', reason: 'hard_bounce', source: 'crm' });
    await s.caughtUp();
    expect(await s.reader.find('jean@example.fr', 'email')).toMatchObject({ suppressed: true, suppression_reason: 'unsubscribe' });
    expect(await policy.check({ recipient: 'jean@example.fr', channel: 'email', kind: 'transactional', at: AFTERNOON })).toEqual({ send: true });
    expect(await policy.check({ recipient: 'jean@example.fr', channel: 'email', kind: 'marketing', at: AFTERNOON })).toMatchObject({ skip: 'opted_out' });
  });

  it('rebuilds to exactly the rows the live projection built', async () => {
    const s = await setup();
    const reasons = suppressionReasons;
    for (let i = 0; i < 12; i++) {
      const recipient = `client${i}@example.fr`;
      await s.send({ type: 'RecordConsent', recipient, channel: 'email', granted: i % 2 === 0, source: 'crm' });
      if (i % 3 === 0) await s.send({ type: 'SuppressRecipient', recipient, channel: 'email', reason: reasons[i % 4]!, source: 'sendgrid' });
      if (i % 4 === 0) await s.send({ type: 'RecordConsent', recipient, channel: 'email', granted: true, source: 'website_form' });
      if (i % 6 === 0) await s.send({ type: 'ReleaseSuppression', recipient, channel: 'email', reason: reasons[i % 4]!, source: 'crm' });
    }
    await s.caughtUp();
    await s.projector.stop();
    const rows = () => s.db.selectFrom('consents' as never).selectAll().orderBy('id' as never).execute();
    const live = await rows();
    expect(live).toHaveLength(12);
    await rebuildProjection(s.store, s.db, consentsProjection, 5);
    expect(await rows()).toEqual(live);
  });
});
