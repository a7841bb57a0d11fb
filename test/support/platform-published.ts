import { randomUUID } from 'node:crypto';
import { PlatformPublished } from '../../src/domain/publication-events.js';
import type { Platform } from '../../src/domain/publication-events.js';
import type { EventStore, Position } from '../../src/infrastructure/event-store/event-store.js';

/**
 * Appends a PlatformPublished to a publication's stream, as the publishing worker records it, without the rest of the
 * publication's life: the engagement read model starts from this one event.
 */
export async function appendPlatformPublished(
  store: EventStore,
  post: { publication_id: string; post_id: string; platform?: Platform; published_at?: string; post_url?: string | null },
): Promise<Position> {
  const published_at = post.published_at ?? new Date().toISOString();
  const data = PlatformPublished.schema.parse({
    publication_id: post.publication_id,
    platform: post.platform ?? 'facebook',
    attempt_id: randomUUID(),
    post_id: post.post_id,
    post_url: post.post_url ?? null,
    published_at,
  });
  const result = await store.append(
    `publication-${post.publication_id}`,
    [{ id: randomUUID(), type: 'PlatformPublished', data, metadata: { actor: 'test', timestamp: published_at, schema_version: PlatformPublished.version } }],
    { expectedRevision: 'any' },
  );
  return result.position;
}
