import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandHandler } from '../../../src/commands/command-handler.js';
import { publicationDecider, publicationEvents, publicationRequestSchema, type PublicationCommand } from '../../../src/domain/publication.js';
import type { BusMessage } from '../../../src/infrastructure/bus/message-bus.js';
import { createInProcessBus } from '../../../src/infrastructure/bus/in-process-bus.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../../src/infrastructure/event-store/postgres-event-store.js';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';
import { PlatformError, type SocialPost } from '../../../src/platforms/social/connector.js';
import type { PublicationJob } from '../../../src/reactors/publications/publication-job.js';
import { PublicationWorker, publicationStreamId } from '../../../src/reactors/publications/publication-worker.js';
import { pgliteDatabase } from '../../support/databases.js';
import { scriptedConnector } from '../../support/scripted-connector.js';

/**
 * Jobs that come again. A job for a platform whose attempt is under way is normal (the scheduler sends a job again
 * when the first one waited long in the queue; the bus hands a job out again when it lost the keep-alives of the
 * worker holding it): whichever job it is, it leaves the attempt alone until the attempt's deadline has passed, since
 * a live attempt may still post until then. After it, any job may declare the attempt interrupted. A retry first asks
 * the platform for the post an earlier attempt may have made, and when the platform cannot be asked, the job waits.
 */
describe('publication worker: repeated and retried jobs', () => {
  const database = pgliteDatabase();
  let store: PostgresEventStore;
  let worker: PublicationWorker;
  const searches: SocialPost[] = [];
  const posts: SocialPost[] = [];
  const attemptDeadlineMs = 120_000;
  /** While set, findPublished fails as a platform whose breaker is open. */
  let unreachable = false;

  beforeAll(async () => {
    store = await createPostgresEventStore(await database.create());
    const facebook = scriptedConnector('facebook', '1001', {
      publish: async (post) => (posts.push(post), { postId: '1001_1', url: null }),
      findPublished: async (post) => {
        searches.push(post);
        if (unreachable) throw new PlatformError('facebook', 'transient', 'facebook: circuit open after repeated failures; not called', { platformCode: 'circuit_open' });
        return null;
      },
    });
    worker = new PublicationWorker(store, createInProcessBus(), { facebook }, createLogger('silent'), { retryBackoffMs: 1_000, attemptDeadlineMs });
  });
  afterAll(async () => {
    await store.close();
    await database.cleanup();
  });

  /**
   * A publication whose Facebook attempt another worker started startedAgoMs ago, without a result since; recorded
   * with the deadline publishByMs from its start, or without one as before 0.7.0.
   */
  async function publishingElsewhere(startedAgoMs: number, publishByMs?: number): Promise<string> {
    const id = randomUUID();
    const handler = new CommandHandler(store, publicationDecider, publicationEvents);
    const context = { correlationId: id, causationId: id, actor: 'test', now: new Date() };
    const now = new Date(Date.now() - startedAgoMs).toISOString();
    const request = publicationRequestSchema.parse({ content: { body: 'Ce soir : moules-frites au Vieux Moulin.' }, platforms: ['facebook'], scheduled_time: now });
    const commands: PublicationCommand[] = [
      { type: 'SchedulePublication', publication_id: id, request, now },
      {
        type: 'StartPlatformPublishing',
        publication_id: id,
        platform: 'facebook',
        attempt_id: randomUUID(),
        ...(publishByMs === undefined ? {} : { publish_by: new Date(Date.parse(now) + publishByMs).toISOString() }),
        now,
      },
    ];
    for (const command of commands) await handler.handle(publicationStreamId(id), command, context);
    return id;
  }

  /** A publication whose Facebook attempt failed two minutes ago, its retry due now. */
  async function retryDue(): Promise<string> {
    const id = randomUUID();
    const handler = new CommandHandler(store, publicationDecider, publicationEvents);
    const then = new Date(Date.now() - 120_000).toISOString();
    const context = { correlationId: id, causationId: id, actor: 'test', now: new Date(then) };
    const request = publicationRequestSchema.parse({ content: { body: 'Ce midi : blanquette de veau.' }, platforms: ['facebook'], scheduled_time: then });
    const attemptId = randomUUID();
    const commands: PublicationCommand[] = [
      { type: 'SchedulePublication', publication_id: id, request, now: then },
      { type: 'StartPlatformPublishing', publication_id: id, platform: 'facebook', attempt_id: attemptId, now: then },
      { type: 'RecordPlatformFailed', publication_id: id, platform: 'facebook', attempt_id: attemptId, error_class: 'transient', message: 'HTTP 503', retryable: true, retry_backoff_ms: 1_000, now: then },
    ];
    for (const command of commands) await handler.handle(publicationStreamId(id), command, context);
    return id;
  }

  const naks: number[] = [];
  const job = (publicationId: string, deliveryCount: number, reason: PublicationJob['reason'] = 'due'): BusMessage<PublicationJob> => ({
    id: `${publicationId}:facebook:1`,
    subject: 'comm.jobs.publish.facebook',
    data: { publication_id: publicationId, platform: 'facebook', reason },
    headers: {},
    deliveryCount,
    ack: async () => undefined,
    nak: async (delayMs = 0) => void naks.push(delayMs),
    deadLetter: async () => undefined,
  });
  const types = async (id: string) => (await store.readStream(publicationStreamId(id))).map((e) => e.type);

  it.each([
    ['a second job, delivered for the first time', 1, 'due'],
    ["the attempt's own job, redelivered", 3, 'due'],
    ["the scheduler's recover job", 1, 'recover'],
  ] as const)('leaves an attempt that may still post alone until its deadline has passed: %s', async (_, deliveryCount, reason) => {
    const id = await publishingElsewhere(10_000);
    searches.length = 0;
    naks.length = 0;
    await worker.handle(job(id, deliveryCount, reason));
    expect(await types(id)).toEqual(['PublicationScheduled', 'PlatformPublishingStarted']);
    expect(searches).toEqual([]);
    expect(posts).toEqual([]);
    // Back when the attempt can no longer post: its deadline and the margin of its last call, counted from its start.
    expect(naks).toHaveLength(1);
    expect(naks[0]).toBeGreaterThan(attemptDeadlineMs + 30_000 - 10_000 - 5_000);
    expect(naks[0]).toBeLessThanOrEqual(attemptDeadlineMs + 30_000 - 10_000);
  });

  it('counts from the deadline the attempt recorded, whatever its own setting', async () => {
    const id = await publishingElsewhere(10_000, 20_000);
    naks.length = 0;
    await worker.handle(job(id, 2));
    expect(naks).toHaveLength(1);
    expect(naks[0]).toBeGreaterThan(20_000 + 30_000 - 10_000 - 5_000);
    expect(naks[0]).toBeLessThanOrEqual(20_000 + 30_000 - 10_000);

    const late = await publishingElsewhere(51_000, 20_000);
    searches.length = 0;
    await worker.handle(job(late, 1));
    expect(searches).toHaveLength(1);
    expect(await types(late)).toEqual(['PublicationScheduled', 'PlatformPublishingStarted', 'PlatformPublishFailed']);
  });

  it('recovers an attempt past its deadline on any job: asks the platform, then records the attempt failed', async () => {
    const id = await publishingElsewhere(attemptDeadlineMs + 31_000);
    searches.length = 0;
    await worker.handle(job(id, 1));
    expect(searches).toHaveLength(1);
    expect(await types(id)).toEqual(['PublicationScheduled', 'PlatformPublishingStarted', 'PlatformPublishFailed']);
    expect(posts).toEqual([]);
  });

  it("recovers it on the scheduler's recover job", async () => {
    const id = await publishingElsewhere(attemptDeadlineMs + 31_000);
    searches.length = 0;
    await worker.handle(job(id, 1, 'recover'));
    expect(searches).toHaveLength(1);
    const failed = (await store.readStream(publicationStreamId(id))).at(-1)!;
    expect(failed.type).toBe('PlatformPublishFailed');
    // The configured backoff spaces the retry.
    const data = failed.data as { failed_at: string; next_attempt_at: string };
    expect(Date.parse(data.next_attempt_at) - Date.parse(data.failed_at)).toBe(1_000);
  });

  it('asks the platform before recording a retry, and waits without spending an attempt when it cannot be asked', async () => {
    const id = await retryDue();
    const before = await types(id);
    naks.length = 0;
    unreachable = true;
    try {
      await worker.handle(job(id, 1));
    } finally {
      unreachable = false;
    }
    expect(naks).toEqual([30_000]);
    expect(await types(id)).toEqual(before);

    await worker.handle(job(id, 2));
    expect((await types(id)).slice(before.length)).toEqual(['PlatformPublishingStarted', 'PlatformPublished']);
    expect(posts.map((p) => p.text)).toEqual([expect.stringContaining('blanquette')]);
    // The attempt records its deadline, attemptDeadlineMs after its start, and the connector is told it.
    const started = (await store.readStream(publicationStreamId(id))).filter((e) => e.type === 'PlatformPublishingStarted').at(-1)!;
    const { started_at, publish_by } = started.data as { started_at: string; publish_by: string };
    expect(Date.parse(publish_by) - Date.parse(started_at)).toBe(attemptDeadlineMs);
    expect(posts.at(-1)!.publishBy?.toISOString()).toBe(publish_by);
  });
});
