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
} from './graph-api.js';
import { parseConfig, sameText } from './http.js';
import type { PlatformCalls } from './platform-calls.js';

/**
 * Facebook Pages through the Graph API, posting as the Page with a Page access token.
 *
 * - text only: POST /{page-id}/feed `message`;
 * - photos: each one POST /{page-id}/photos `url` + `published=false` (an unpublished photo is not a post), then one
 *   POST /{page-id}/feed with `attached_media[i]={"media_fbid": id}` — a single post whatever the number of photos;
 * - one video: POST /{page-id}/videos `file_url` + `description` (Meta fetches the file from the URL).
 * A post id (PAGEID_POSTID, or the video id) opens at https://www.facebook.com/{id}.
 *
 * Insights: Meta removed post_impressions* (November 2025) and post_impressions_unique* (June 2025) for all versions;
 * their replacements are post_media_view (views → impressions) and post_total_media_view_unique (viewers → reach).
 * post_clicks stays. Likes, comments and shares come from the post itself (reactions and comments summaries, shares).
 */

const facebookConfigSchema = z.looseObject({
  page_id: z.string().min(1),
  access_token: z.string().min(1).optional(),
  api_version: z.string().regex(/^v\d+\.\d+$/, 'must look like v18.0').default('v18.0'),
  base_url: z.url({ protocol: /^https?$/ }).optional(),
});

export interface FacebookConnectorOptions {
  timeoutMs?: number;
  /** When given, overrides config.access_token (the token vault plugs in here). */
  accessToken?: () => Promise<string>;
  /** How each HTTP call is made (retries, circuit breaker); default once, as it is. */
  calls?: PlatformCalls;
}

export const facebookPostInsightMetrics = ['post_media_view', 'post_total_media_view_unique', 'post_clicks'] as const;

/**
 * How far before `since` findPublished looks: `since` is our clock, created_time is Meta's, and missing a post because
 * the clocks differ by a few seconds would mean posting it twice.
 */
const clockSkewMs = 2 * 60_000;

interface FeedItem {
  id: string;
  message?: string;
  created_time?: string;
}

export function createFacebookConnector(config: unknown, options: FacebookConnectorOptions = {}): SocialConnector {
  const cfg = parseConfig('facebook', facebookConfigSchema, config);
  const graph = createGraphClient({
    platform: 'facebook',
    apiRoot: graphApiRoot(cfg.base_url, cfg.api_version),
    accessToken: accessTokenSource('facebook', cfg.access_token, options.accessToken),
    timeoutMs: options.timeoutMs,
    calls: options.calls,
  });
  const page = cfg.page_id;

  return {
    platform: 'facebook',
    account: page,

    async publish(post: SocialPost): Promise<PublishedPost> {
      const kinds = post.mediaUrls.map(mediaKind);
      if (kinds.includes('video') && post.mediaUrls.length > 1) {
        throw new PlatformError('facebook', 'permanent', 'facebook: a Page post carries one video alone, or photos only');
      }
      if (!post.text.trim() && post.mediaUrls.length === 0) throw new PlatformError('facebook', 'permanent', 'facebook: the post has neither text nor media');
      await graph.ensureAvailable();
      const id = kinds[0] === 'video' ? await postVideo(graph, page, post) : await postToFeed(graph, page, post);
      return { postId: id, url: facebookPostUrl(id) };
    },

    async findPublished(post: SocialPost, since: Date): Promise<PublishedPost | null> {
      await graph.ensureAvailable();
      const from = since.getTime() - clockSkewMs;
      const items = await readListing<FeedItem>(
        graph,
        graphPath(page, 'published_posts'),
        { fields: 'id,message,created_time', since: Math.floor(from / 1000), limit: 100 },
        (batch) => batch.every((item) => (parseGraphTime(item.created_time) ?? Infinity) >= from),
      );
      const match = items.find((item) => sameText(item.message ?? '', post.text) && (parseGraphTime(item.created_time) ?? Infinity) >= from);
      return match ? { postId: match.id, url: facebookPostUrl(match.id) } : null;
    },

    async fetchMetrics(postId: string): Promise<EngagementMetrics> {
      await graph.ensureAvailable();
      const counts = await graph.get<PostCounts>(graphPath(postId), { fields: 'reactions.limit(0).summary(true),comments.limit(0).summary(true),shares' });
      const insights = await postInsights(graph, postId);
      return {
        likes: counts.reactions?.summary?.total_count ?? null,
        comments: counts.comments?.summary?.total_count ?? null,
        // Graph leaves `shares` out of a post nobody shared.
        shares: counts.shares?.count ?? 0,
        reach: insights.get('post_total_media_view_unique') ?? null,
        clicks: insights.get('post_clicks') ?? null,
        impressions: insights.get('post_media_view') ?? null,
      };
    },

    async check(): Promise<void> {
      await graph.ensureAvailable();
      await graph.get(graphPath(page), { fields: 'id,name' });
    },
  };
}

export function facebookPostUrl(postId: string): string {
  return `https://www.facebook.com/${encodeURIComponent(postId)}`;
}

async function postToFeed(graph: GraphClient, page: string, post: SocialPost): Promise<string> {
  const form: Record<string, string> = {};
  if (post.text.trim()) form.message = post.text;
  for (const [i, url] of post.mediaUrls.entries()) {
    const photo = await graph.post<{ id?: string }>(graphPath(page, 'photos'), { url, published: false }, { write: false });
    form[`attached_media[${i}]`] = JSON.stringify({ media_fbid: requireId(photo, 'photo upload', false) });
  }
  assertBeforePublishDeadline('facebook', post);
  return requireId(await graph.post<{ id?: string }>(graphPath(page, 'feed'), form, { write: true }), 'feed post', true);
}

async function postVideo(graph: GraphClient, page: string, post: SocialPost): Promise<string> {
  const form: Record<string, string> = { file_url: post.mediaUrls[0] as string };
  if (post.text.trim()) form.description = post.text;
  assertBeforePublishDeadline('facebook', post);
  return requireId(await graph.post<{ id?: string }>(graphPath(page, 'videos'), form, { write: true }), 'video post', true);
}

interface PostCounts {
  reactions?: { summary?: { total_count?: number } };
  comments?: { summary?: { total_count?: number } };
  shares?: { count?: number };
}

/**
 * The post's insights, or none when Meta refuses the metrics for this post (a metric renamed again, a post type
 * without insights): the counters we can read are still worth returning. Auth, throttling and outages still throw.
 */
async function postInsights(graph: GraphClient, postId: string): Promise<Map<string, number>> {
  try {
    return readInsights(await graph.get(graphPath(postId, 'insights'), { metric: facebookPostInsightMetrics.join(',') }));
  } catch (error) {
    if (error instanceof PlatformError && error.errorClass === 'permanent') return new Map();
    throw error;
  }
}

/** An id from a success answer; a public write that answers no id leaves us not knowing what was made. */
function requireId(answer: { id?: unknown }, what: string, write: boolean): string {
  if (typeof answer.id === 'string' && answer.id) return answer.id;
  if (typeof answer.id === 'number') return String(answer.id);
  throw new PlatformError('facebook', write ? 'unknown_outcome' : 'transient', `facebook: the ${what} was accepted without an id`);
}
