import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { assertBeforePublishDeadline, mediaKind, PlatformError, type EngagementMetrics, type PublishedPost, type SocialConnector, type SocialPost } from './connector.js';
import {
  accessTokenSource,
  createGraphClient,
  graphApiRoot,
  graphPath,
  parseGraphTime,
  readInsights,
  readListing,
  type GraphClient,
  type GraphParams,
} from './graph-api.js';
import { parseConfig, sameText } from './http.js';
import type { PlatformCalls } from './platform-calls.js';

/**
 * Instagram professional account through the Instagram Graph API (Facebook Login, graph.facebook.com).
 *
 * Publishing is Meta's three steps: create a media container (Meta downloads the media from its public URL), wait
 * until GET /{container}?fields=status_code says FINISHED, then POST /{ig-user-id}/media_publish creation_id. One image
 * → image_url; one video → video_url + media_type=REELS; 2–10 media → one container per item (is_carousel_item=true,
 * videos with media_type=VIDEO) and a CAROUSEL container with `children` and the caption.
 *
 * Only media_publish makes something public, so only a lost answer to it is unknown_outcome; a container that never
 * finishes is transient (nothing was published). Before the first container, content_publishing_limit is read and a
 * spent quota refuses the post as rate_limited rather than creating containers Meta will not publish.
 *
 * Insights: views replaced impressions and plays in 2025 (v22.0, then all versions); we read views, reach, likes,
 * comments and shares — the counters EngagementMetrics has room for.
 */

const instagramConfigSchema = z.looseObject({
  business_account_id: z.string().min(1),
  access_token: z.string().min(1).optional(),
  api_version: z.string().regex(/^v\d+\.\d+$/, 'must look like v18.0').default('v18.0'),
  base_url: z.url({ protocol: /^https?$/ }).optional(),
});

export interface InstagramConnectorOptions {
  timeoutMs?: number;
  /** When given, overrides config.access_token (the token vault plugs in here). */
  accessToken?: () => Promise<string>;
  /** How each HTTP call is made (retries, circuit breaker); default once, as it is. */
  calls?: PlatformCalls;
  /** Pause between two reads of a container's status; default 1 s. */
  containerPollIntervalMs?: number;
  /** How long a publish waits for its containers to be FINISHED; default 5 minutes. */
  containerTimeoutMs?: number;
}

export const instagramMediaInsightMetrics = ['views', 'reach', 'likes', 'comments', 'shares'] as const;

const maxCarouselItems = 10;
/** Meta's rolling 24 h window gives no reset time; an hour is a sensible first wait. */
const quotaWaitMs = 60 * 60_000;
/** See facebook.ts: our clock and Meta's may differ by a little. */
const clockSkewMs = 2 * 60_000;

interface MediaItem {
  id: string;
  caption?: string;
  permalink?: string;
  timestamp?: string;
}

export function createInstagramConnector(config: unknown, options: InstagramConnectorOptions = {}): SocialConnector {
  const cfg = parseConfig('instagram', instagramConfigSchema, config);
  const graph = createGraphClient({
    platform: 'instagram',
    apiRoot: graphApiRoot(cfg.base_url, cfg.api_version),
    accessToken: accessTokenSource('instagram', cfg.access_token, options.accessToken),
    timeoutMs: options.timeoutMs,
    calls: options.calls,
  });
  const igUser = cfg.business_account_id;
  const pollIntervalMs = options.containerPollIntervalMs ?? 1_000;
  const containerTimeoutMs = options.containerTimeoutMs ?? 5 * 60_000;

  async function createContainer(form: GraphParams): Promise<string> {
    const answer = await graph.post<{ id?: unknown }>(graphPath(igUser, 'media'), form, { write: false });
    if (typeof answer.id !== 'string' && typeof answer.id !== 'number') {
      throw new PlatformError('instagram', 'transient', 'instagram: the media container was accepted without an id');
    }
    return String(answer.id);
  }

  async function waitUntilFinished(containerId: string, deadline: number): Promise<void> {
    for (;;) {
      const state = await graph.get<{ status_code?: string; status?: string }>(graphPath(containerId), { fields: 'status_code,status' });
      if (state.status_code === 'FINISHED' || state.status_code === 'PUBLISHED') return;
      if (state.status_code === 'ERROR' || state.status_code === 'EXPIRED') {
        throw new PlatformError('instagram', 'permanent', `instagram: media container ${state.status_code}${state.status ? `: ${state.status}` : ''}`, {
          platformCode: state.status_code,
        });
      }
      if (Date.now() + pollIntervalMs > deadline) {
        throw new PlatformError('instagram', 'transient', `instagram: media not processed within ${Math.round(containerTimeoutMs / 1000)} s (nothing was published)`, {
          platformCode: 'container_timeout',
        });
      }
      await sleep(pollIntervalMs);
    }
  }

  /** The container to publish: the single media's, or the carousel's once every item is ready. */
  async function prepareContainer(post: SocialPost, deadline: number): Promise<string> {
    const [only] = post.mediaUrls;
    if (post.mediaUrls.length === 1 && only) {
      const media: GraphParams = mediaKind(only) === 'video' ? { video_url: only, media_type: 'REELS' } : { image_url: only };
      return createContainer({ ...media, caption: post.text });
    }
    const children: string[] = [];
    for (const url of post.mediaUrls) {
      const media: GraphParams = mediaKind(url) === 'video' ? { video_url: url, media_type: 'VIDEO' } : { image_url: url };
      children.push(await createContainer({ ...media, is_carousel_item: true }));
    }
    for (const child of children) await waitUntilFinished(child, deadline);
    return createContainer({ media_type: 'CAROUSEL', children: children.join(','), caption: post.text });
  }

  async function ensureQuotaLeft(): Promise<void> {
    const answer = await graph.get<{ data?: Array<{ quota_usage?: number; config?: { quota_total?: number } }> }>(graphPath(igUser, 'content_publishing_limit'), {
      fields: 'quota_usage,config',
    });
    const limit = answer.data?.[0];
    const used = limit?.quota_usage;
    const total = limit?.config?.quota_total;
    if (typeof used === 'number' && typeof total === 'number' && used >= total) {
      throw new PlatformError('instagram', 'rate_limited', `instagram: publishing quota used up (${used}/${total} in 24 h)`, {
        platformCode: 'content_publishing_limit',
        retryAfterMs: quotaWaitMs,
      });
    }
  }

  /** The post's permalink; the post exists whatever happens here, so a failure only costs the link. */
  async function permalink(mediaId: string): Promise<string | null> {
    try {
      const answer = await graph.get<{ permalink?: unknown }>(graphPath(mediaId), { fields: 'permalink' });
      return typeof answer.permalink === 'string' ? answer.permalink : null;
    } catch {
      return null;
    }
  }

  return {
    platform: 'instagram',
    account: igUser,

    async publish(post: SocialPost): Promise<PublishedPost> {
      if (post.mediaUrls.length === 0) throw new PlatformError('instagram', 'permanent', 'instagram: a post needs at least one image or video');
      if (post.mediaUrls.length > maxCarouselItems) {
        throw new PlatformError('instagram', 'permanent', `instagram: a carousel holds at most ${maxCarouselItems} media (got ${post.mediaUrls.length})`);
      }
      await graph.ensureAvailable();
      await ensureQuotaLeft();
      const deadline = Date.now() + containerTimeoutMs;
      const container = await prepareContainer(post, deadline);
      await waitUntilFinished(container, deadline);
      assertBeforePublishDeadline('instagram', post);
      const published = await graph.post<{ id?: unknown }>(graphPath(igUser, 'media_publish'), { creation_id: container }, { write: true });
      if (typeof published.id !== 'string' && typeof published.id !== 'number') {
        throw new PlatformError('instagram', 'unknown_outcome', 'instagram: media_publish was accepted without a media id');
      }
      const mediaId = String(published.id);
      return { postId: mediaId, url: await permalink(mediaId) };
    },

    async findPublished(post: SocialPost, since: Date): Promise<PublishedPost | null> {
      await graph.ensureAvailable();
      const from = since.getTime() - clockSkewMs;
      const recent = (item: MediaItem) => (parseGraphTime(item.timestamp) ?? Infinity) >= from;
      // Up to 500 of the newest media, as the other connectors read: the search may come minutes after the attempt.
      const items = await readListing<MediaItem>(
        graph,
        graphPath(igUser, 'media'),
        { fields: 'id,caption,permalink,timestamp', limit: 50 },
        (batch) => batch.every(recent),
        10,
      );
      const match = items.find((item) => recent(item) && sameText(item.caption ?? '', post.text));
      return match ? { postId: match.id, url: match.permalink ?? null } : null;
    },

    async fetchMetrics(mediaId: string): Promise<EngagementMetrics> {
      await graph.ensureAvailable();
      const insights = await mediaInsights(graph, mediaId);
      return {
        likes: insights.get('likes') ?? null,
        shares: insights.get('shares') ?? null,
        comments: insights.get('comments') ?? null,
        reach: insights.get('reach') ?? null,
        clicks: null,
        impressions: insights.get('views') ?? null,
      };
    },

    async check(): Promise<void> {
      await graph.ensureAvailable();
      await graph.get(graphPath(igUser), { fields: 'id,username' });
    },
  };
}

/**
 * The media's insights, or none when Meta has none to give: "(#10) Not enough viewers for the media to show insights"
 * (code 10 is otherwise a permission error) or a metric this media type does not support.
 */
async function mediaInsights(graph: GraphClient, mediaId: string): Promise<Map<string, number>> {
  try {
    return readInsights(await graph.get(graphPath(mediaId, 'insights'), { metric: instagramMediaInsightMetrics.join(',') }));
  } catch (error) {
    if (error instanceof PlatformError && (error.errorClass === 'permanent' || isNotEnoughViewers(error))) return new Map();
    throw error;
  }
}

function isNotEnoughViewers(error: PlatformError): boolean {
  return error.details.platformCode === 10 && /not enough viewers/i.test(error.message);
}
