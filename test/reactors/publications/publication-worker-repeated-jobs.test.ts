import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandHandler } from '../../../src/commands/command-handler.js';
import { publicationDecider, publicationEvents, publicationRequestSchema, type PublicationCommand } from '../../../src/domain/publication.js';
import type { BusMessage } from '../../../src/infrastructure/bus/message-bus.js';
import { createInProcessBus } from '../../../src/infrastructure/bus/in-process-bus.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../../src/infrastructure/event-store/postgres-event-store.js';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';
import { PlatformError, type SocialConnector, type SocialPost } from '../../../src/platforms/social/connector.js';
import type { PublicationJob } from '../../../src/reactors/publications/publication-job.js';
import { PublicationWorker, publicationStreamId } from '../../../src/reactors/publications/publication-worker.js';
import { pgliteDatabase } from '../../support/databases.js';

/**
 * Jobs that come again. A job for a platform whose attempt another worker has under way is normal (the scheduler sends
 * a job again when the first one waited long in the queue): it must leave the attempt alone; only the attempt's own
 * job redelivered (its worker died) or the scheduler's recover job may declare it interrupted. A retry first asks the
 * platform for the post an earlier attempt may have made, and when the platform cannot be asked, the job waits.
 */
describe('publication worker: repeated and retried jobs', () => {
  const database = pgliteDatabase();
  let store: PostgresEventStore;
  let worker: PublicationWorker;
  const searches: SocialPost[] = [];
  const posts: SocialPost[] = [];
  /** While set, findPublished fails as a platform whose breaker is open. */
  let unreachable = false;

  beforeAll(async () => {
    store = await createPostgresEventStore(await database.create());
    const facebook: SocialConnector = {
      platform: 'facebook',
      account: '1001',
      publish: async (post) => (posts.push(post), { postId: '1001_1', url: null }),
      findPublished: async (post) => {
        searches.push(post);
        if (unreachable) throw new PlatformError('facebook', 'transient', 'facebook: circuit open after repeated failures; not called', { platformCode: 'circuit_open' });
        return null;
      },
      fetchMetrics: async () => ({ likes: null, shares: null, comments: null, reach: null, clicks: null, impressions: null }),
      check: async () => undefined,
    };
    worker = new PublicationWorker(store, createInProcessBus(), { facebook }, createLogger('silent'), { retryBackoffMs: 1_000 });
  });
  afterAll(async () => {
    await store.close();
    await database.cleanup();
  });

  /** A publication whose Facebook attempt another worker started a moment ago. */
  async function publishingElsewhere(): Promise<string> {
    const id = randomUUID();
    const handler = new CommandHandler(store, publicationDecider, publicationEvents);
    const context = { correlationId: id, causationId: id, actor: 'test', now: new Date() };
    const now = new Date().toISOString();
    const request = publicationRequestSchema.parse({ content: { body: 'Ce soir : moules-frites au Vieux Moulin.' }, platforms: ['facebook'], scheduled_time: now });
    const commands: PublicationCommand[] = [
      { type: 'SchedulePublication', publication_id: id, request, now },
      { type: 'StartPlatformPublishing', publication_id: id, platform: 'facebook', attempt_id: randomUUID(), now },
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

  it('leaves the attempt to its own job when delivered for the first time', async () => {
    const id = await publishingElsewhere();
    searches.length = 0;
    await worker.handle(job(id, 1));
    expect(await types(id)).toEqual(['PublicationScheduled', 'PlatformPublishingStarted']);
    expect(searches).toEqual([]);
    expect(posts).toEqual([]);
  });

  it("recovers it when the attempt's job comes back redelivered (its worker died)", async () => {
    const id = await publishingElsewhere();
    searches.length = 0;
    await worker.handle(job(id, 2));
    expect(searches).toHaveLength(1);
    expect(await types(id)).toEqual(['PublicationScheduled', 'PlatformPublishingStarted', 'PlatformPublishFailed']);
    expect(posts).toEqual([]);
  });

  it("recovers it on the scheduler's recover job", async () => {
    const id = await publishingElsewhere();
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
  });
});
