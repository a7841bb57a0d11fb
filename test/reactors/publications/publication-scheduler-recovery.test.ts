import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandHandler } from '../../../src/commands/command-handler.js';
import { publicationDecider, publicationEvents, publicationRequestSchema, type PublicationCommand } from '../../../src/domain/publication.js';
import type { SocialPost } from '../../../src/platforms/social/connector.js';
import { publicationStreamId } from '../../../src/reactors/publications/publication-worker.js';
import { capturingLogger } from '../../support/captured-logs.js';
import { pgliteDatabase } from '../../support/databases.js';
import { scriptedConnector } from '../../support/scripted-connector.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

/**
 * The scheduler's safety net for attempts left without a result (their worker died, and the job that would have
 * recovered them was lost or dead-lettered): once the attempt deadline (COMM_PUBLISH_ATTEMPT_DEADLINE_MS) and a minute
 * have passed since the attempt started, it hands the platform to a worker, which finds the post the attempt made and
 * records it. An attempt still inside that time is left alone: it may be alive and about to post.
 */
describe('the scheduler recovers attempts left without a result, after their deadline', () => {
  const database = pgliteDatabase();
  const deadlineMs = 10_000;
  const searched: string[] = [];
  const { logger, lines } = capturingLogger('warn');
  let t: RunningApp;

  beforeAll(async () => {
    const facebook = scriptedConnector('facebook', '1001', {
      publish: async () => {
        throw new Error('nothing is published again in this test');
      },
      // The dead attempt had posted: the platform has it.
      findPublished: async (post: SocialPost) => (searched.push(post.publicationId), { postId: `1001_${post.publicationId}`, url: null }),
    });
    t = await startTestApp(database, { logger, connectors: { facebook }, env: { COMM_PUBLISH_ATTEMPT_DEADLINE_MS: String(deadlineMs) }, scheduler: { pollIntervalMs: 50 } });
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  /** A Facebook attempt that started startedAgoMs ago, recorded with the app's deadline, and no result since. */
  async function abandonedAttempt(startedAgoMs: number): Promise<{ id: string; attemptId: string }> {
    const id = randomUUID();
    const attemptId = randomUUID();
    const handler = new CommandHandler(t.app.store, publicationDecider, publicationEvents);
    const started = Date.now() - startedAgoMs;
    const scheduledAt = new Date(started - 1_000).toISOString();
    const request = publicationRequestSchema.parse({ content: { body: `Ce soir au Vieux Moulin : ${id}` }, platforms: ['facebook'], scheduled_time: scheduledAt });
    const commands: PublicationCommand[] = [
      { type: 'SchedulePublication', publication_id: id, request, now: scheduledAt },
      {
        type: 'StartPlatformPublishing',
        publication_id: id,
        platform: 'facebook',
        attempt_id: attemptId,
        publish_by: new Date(started + deadlineMs).toISOString(),
        now: new Date(started).toISOString(),
      },
    ];
    for (const command of commands) await handler.handle(publicationStreamId(id), command, { correlationId: id, causationId: id, actor: 'test', now: new Date(started) });
    return { id, attemptId };
  }

  const types = async (id: string) => (await t.app.store.readStream(publicationStreamId(id))).map((e) => e.type);

  it('hands an attempt a minute past its deadline to a worker, which records the post it finds; a younger one waits', async () => {
    // Out of the scheduler's sight until the read model has the attempts: while it saw them scheduled and due, it
    // would hand them out as due, and a worker finding the attempt would recover it on its own.
    await t.app.scheduler!.stop();
    const young = await abandonedAttempt(deadlineMs + 5_000);
    const old = await abandonedAttempt(deadlineMs + 61_000);
    const statuses = async () =>
      (await t.app.sql.query<{ status: string }>('SELECT status FROM publication_schedule WHERE publication_id = ANY($1)', [[young.id, old.id]])).rows.map((r) => r.status);
    await expect.poll(statuses, { timeout: 10_000 }).toEqual(['publishing', 'publishing']);
    t.app.scheduler!.start();

    await expect.poll(() => types(old.id), { timeout: 10_000 }).toEqual(['PublicationScheduled', 'PlatformPublishingStarted', 'PlatformPublished']);
    const published = (await t.app.store.readStream(publicationStreamId(old.id))).at(-1)!.data as { attempt_id: string; post_id: string };
    expect(published).toMatchObject({ attempt_id: old.attemptId, post_id: `1001_${old.id}` });
    // Handed over by the scheduler's recovery, not by a job that happened to find it.
    const recoveries = (id: string) => lines.filter((l) => l.msg === 'publishing attempt without a result: recovering' && l.publication_id === id);
    expect(recoveries(old.id).length).toBeGreaterThan(0);

    // Several looks of the scheduler later, the younger attempt is still left to its worker.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await types(young.id)).toEqual(['PublicationScheduled', 'PlatformPublishingStarted']);
    expect(searched).toEqual([old.id]);
    expect(recoveries(young.id)).toEqual([]);
  });
});
