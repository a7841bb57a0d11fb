import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CommandHandler, toDomainEvent } from '../../src/commands/command-handler.js';
import { fold } from '../../src/domain/decider.js';
import {
  publicationDecider,
  publicationEvents,
  publicationRequestSchema,
  type Platform,
  type PublicationCommand,
  type PublicationEvent,
  type PublishErrorClass,
} from '../../src/domain/publication.js';
import { createKysely, migrateToLatest } from '../../src/infrastructure/database/kysely.js';
import type { Position, RecordedEvent } from '../../src/infrastructure/event-store/event-store.js';
import { createPostgresEventStore } from '../../src/infrastructure/event-store/postgres-event-store.js';
import { createLogger } from '../../src/infrastructure/logging/logger.js';
import { checkpointMigrations, readCheckpoint } from '../../src/projections/checkpoints.js';
import { Projector } from '../../src/projections/projector.js';
import { publicationsProjection } from '../../src/projections/publications/publications-projection.js';
import type { PublicationsTable } from '../../src/projections/publications/publications-table.js';
import { rebuildProjection } from '../../src/projections/rebuild.js';
import { testDatabases } from '../support/databases.js';

const logger = createLogger(process.env.TEST_LOG ? 'info' : 'silent');

/** When the publications are requested, and when they are due. */
const NOW = '2026-03-01T09:00:00.000Z';
const AT = '2026-03-01T18:30:00Z';
const plus = (iso: string, seconds: number): string => new Date(Date.parse(iso) + seconds * 1_000).toISOString();
const streamOf = (id: string) => `publication-${id}`;

describe.each(testDatabases())('publications projection on $name', (database) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => database.cleanup());

  const setup = async () => {
    const sql = await database.create();
    const store = await createPostgresEventStore(sql, { pollIntervalMs: 50 });
    const db = createKysely(sql) as Kysely<PublicationsTable>;
    await migrateToLatest(db, { ...checkpointMigrations, ...publicationsProjection.migrations }, sql.schema);
    cleanups.push(() => store.close());
    const handler = new CommandHandler(store, publicationDecider, publicationEvents);
    const context = { correlationId: 'c', causationId: 'c', actor: 'test', now: new Date(NOW) };
    // What the projector must reach: the store's head may not show the last append yet (another transaction running).
    let lastWritten: Position | null = null;
    const handle = async (...args: Parameters<typeof handler.handle>) => {
      const result = await handler.handle(...args);
      if (result.position) lastWritten = result.position;
      return result;
    };

    /** One publication driven through commands, as the API and the worker would. */
    const publication = (platforms: Platform[]) => {
      const publication_id = randomUUID();
      const run = (command: PublicationCommand) => handle(streamOf(publication_id), command, context);
      const attempt = (platform: Platform, n: number) => `${platform}-${n}`;
      return {
        id: publication_id,
        schedule: () =>
          handle(
            streamOf(publication_id),
            {
              type: 'SchedulePublication',
              publication_id,
              request: publicationRequestSchema.parse({ content: { body: 'Pizza du jour' }, platforms, scheduled_time: AT }),
              now: NOW,
            },
            context,
            { creates: true },
          ),
        reschedule: (scheduled_time: string) => run({ type: 'ReschedulePublication', publication_id, scheduled_time, reason: 'jour férié', now: NOW }),
        cancel: () => run({ type: 'CancelPublication', publication_id, reason: 'rupture de stock', now: NOW }),
        start: (platform: Platform, n = 1, now = plus(AT, 3_600 * n)) =>
          run({ type: 'StartPlatformPublishing', publication_id, platform, attempt_id: attempt(platform, n), now }),
        published: (platform: Platform, n = 1) =>
          run({
            type: 'RecordPlatformPublished',
            publication_id,
            platform,
            attempt_id: attempt(platform, n),
            post_id: `${platform}_post`,
            post_url: `https://${platform}.example.com/p/1`,
            now: plus(AT, 3_600 * n + 2),
          }),
        failed: (platform: Platform, n: number, error_class: PublishErrorClass, retryable: boolean) =>
          run({
            type: 'RecordPlatformFailed',
            publication_id,
            platform,
            attempt_id: attempt(platform, n),
            error_class,
            message: `HTTP ${retryable ? 503 : 400}`,
            retryable,
            now: plus(AT, 3_600 * n + 2),
          }),
      };
    };

    /** A mix of every event and every outcome; returns each publication id with the status it must end in. */
    const writeHistory = async (count: number) => {
      const expected = new Map<string, string>();
      for (let i = 0; i < count; i++) {
        const platforms: Platform[] = Math.floor(i / 6) % 2 === 0 ? ['facebook', 'instagram'] : ['facebook', 'instagram', 'twitter'];
        const p = publication(platforms);
        await p.schedule();
        switch (i % 6) {
          case 0:
            expected.set(p.id, 'scheduled');
            break;
          case 1:
            await p.reschedule('2026-03-02T17:00:00Z');
            expected.set(p.id, 'scheduled');
            break;
          case 2:
            await p.start('facebook');
            await p.published('facebook');
            await p.start('instagram');
            await p.failed('instagram', 1, 'transient', true);
            expected.set(p.id, 'publishing');
            break;
          case 3:
            await p.cancel();
            expected.set(p.id, 'canceled');
            break;
          case 4:
            await p.start('facebook');
            await p.published('facebook');
            await p.start('instagram');
            await p.failed('instagram', 1, 'validation', true);
            if (platforms.includes('twitter')) {
              await p.start('twitter');
              await p.published('twitter');
            }
            expected.set(p.id, 'partially_published');
            break;
          case 5:
            // Canceled while facebook is publishing: the others are canceled, facebook's failure is not retried.
            await p.start('facebook');
            await p.cancel();
            await p.failed('facebook', 1, 'transient', true);
            expected.set(p.id, 'canceled');
            break;
        }
      }
      return expected;
    };

    const rows = async () => ({
      publications: await db.selectFrom('publications').selectAll().orderBy('id').execute(),
      platforms: await db.selectFrom('publication_platforms').selectAll().orderBy('publication_id').orderBy('platform').execute(),
    });
    return { store, db, publication, writeHistory, rows, lastWritten: () => lastWritten! };
  };
  type Setup = Awaited<ReturnType<typeof setup>>;

  const startProjector = (s: Setup, batchSize = 7) => {
    const projector = new Projector(s.store, s.db, publicationsProjection, logger, { batchSize, retryDelayMs: 20 });
    cleanups.push(() => projector.stop());
    return projector;
  };
  const catchUp = async (s: Setup, projector: Projector) => {
    await projector.start();
    expect(await projector.waitFor(s.lastWritten(), 5_000)).toBe(true);
  };

  /** The rows of one publication against the decider's fold of its stream. */
  const expectMatchesDecider = async (s: Setup, id: string) => {
    const events = await s.store.readStream(streamOf(id));
    const state = fold(publicationDecider, events.map((e) => toDomainEvent<PublicationEvent>(e)));
    if (state.status === 'none') throw new Error(`${id} has no publication`);
    const row = await s.db.selectFrom('publications').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const platforms = await s.db.selectFrom('publication_platforms').selectAll().where('publication_id', '=', id).orderBy('sort_order').execute();
    const time = (value: string | null) => (value === null ? null : Date.parse(value));
    const at = (value: Date | null) => (value === null ? null : value.getTime());
    expect(row).toMatchObject({ status: state.status, campaign_id: state.campaign_id, priority: state.priority, cancel_reason: state.cancel_reason });
    expect(row.revision).toBe(events.at(-1)!.revision);
    expect(at(row.scheduled_time)).toBe(time(state.scheduled_time));
    expect(at(row.canceled_at)).toBe(time(state.canceled_at));
    expect(
      platforms.map((p) => ({
        platform: p.platform,
        status: p.status,
        attempts: p.attempts,
        attempt_ids: p.attempt_ids,
        next_attempt_at: at(p.next_attempt_at),
        post_id: p.post_id,
        published_at: at(p.published_at),
        error: p.last_error_class === null ? null : { class: p.last_error_class, message: p.last_error_message, at: at(p.last_error_at) },
        scheduled_time: at(p.scheduled_time),
      })),
    ).toEqual(
      state.platforms.map((p) => ({
        platform: p.platform,
        status: p.status,
        attempts: p.attempts,
        attempt_ids: p.attempt_ids,
        next_attempt_at: time(p.next_attempt_at),
        post_id: p.post_id,
        published_at: time(p.published_at),
        error: p.last_error === null ? null : { class: p.last_error.error_class, message: p.last_error.message, at: time(p.last_error.failed_at) },
        scheduled_time: time(state.scheduled_time),
      })),
    );
  };

  it('folds every publication event into the same statuses as the decider', async () => {
    const s = await setup();
    const expected = await s.writeHistory(12);
    await catchUp(s, startProjector(s));
    const { publications } = await s.rows();
    expect(publications).toHaveLength(12);
    for (const [id, status] of expected) {
      expect(publications.find((p) => p.id === id)?.status).toBe(status);
      await expectMatchesDecider(s, id);
    }
  });

  it('records each step of one publication: reschedule, retries, results, cancellation', async () => {
    const s = await setup();
    const projector = startProjector(s, 1);
    await projector.start();
    const p = s.publication(['facebook', 'instagram', 'linkedin']);
    const step = async (write: () => Promise<{ position: Position | null }>) => {
      const { position } = await write();
      expect(await projector.waitFor(position!, 5_000)).toBe(true);
      await expectMatchesDecider(s, p.id);
      return s.db.selectFrom('publication_platforms').selectAll().where('publication_id', '=', p.id).orderBy('sort_order').execute();
    };

    expect((await step(p.schedule)).map((r) => r.platform)).toEqual(['facebook', 'instagram', 'linkedin']);
    const [facebook] = await step(() => p.reschedule('2026-03-01T19:00:00Z'));
    expect(facebook!.scheduled_time.toISOString()).toBe('2026-03-01T19:00:00.000Z');
    await step(() => p.start('facebook'));
    const retrying = await step(() => p.failed('facebook', 1, 'rate_limited', true));
    expect(retrying[0]).toMatchObject({ status: 'scheduled', attempts: 1, last_error_class: 'rate_limited', last_error_message: 'HTTP 503' });
    expect(retrying[0]!.next_attempt_at).not.toBeNull();
    await step(() => p.start('facebook', 2));
    const done = await step(() => p.published('facebook', 2));
    expect(done[0]).toMatchObject({ status: 'published', attempts: 2, attempt_ids: ['facebook-1', 'facebook-2'], post_id: 'facebook_post' });
    await step(() => p.start('instagram'));
    const canceled = await step(p.cancel);
    expect(canceled.map((r) => r.status)).toEqual(['published', 'publishing', 'canceled']);
    await step(() => p.published('instagram'));
    const row = await s.db.selectFrom('publications').selectAll().where('id', '=', p.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'partially_published', cancel_reason: 'rupture de stock' });
    expect(row.last_position).toMatch(/^\d+\.\d+$/);
  });

  it('rebuilds to exactly the same rows', async () => {
    const s = await setup();
    await s.writeHistory(12);
    const projector = startProjector(s);
    await catchUp(s, projector);
    await projector.stop();
    const live = await s.rows();

    const result = await rebuildProjection(s.store, s.db, publicationsProjection, 5);
    expect(result.events).toBe((await s.store.readAll({ filter: publicationsProjection.filter, maxCount: 10_000 })).length);
    expect(await s.rows()).toEqual(live);
    expect((await readCheckpoint(s.db, 'publications')).position).toEqual(s.lastWritten());
  });

  it('leaves out event types it does not know, and events of a publication it never saw scheduled', async () => {
    const s = await setup();
    const id = randomUUID();
    const event = (type: string, data: Record<string, unknown>, prepare: number): RecordedEvent => ({
      id: randomUUID(),
      type,
      streamId: streamOf(id),
      revision: prepare - 1,
      position: { commit: 1n, prepare: BigInt(prepare) },
      data: { publication_id: id, ...data },
      metadata: { timestamp: NOW },
      createdAt: new Date(NOW),
    });
    const batch = [
      event('PublicationRescheduled', { previous_time: AT, scheduled_time: AT, reason: 'x', rescheduled_at: NOW }, 1),
      event('PublicationArchived', {}, 2),
    ];
    await s.db.transaction().execute((trx) => publicationsProjection.apply(batch, trx));
    expect((await s.rows()).publications).toEqual([]);
  });
});
