import type { Platform } from '../../domain/publication-events.js';

/**
 * The port every social platform connector (Facebook Pages, Instagram, X, Google Business Profile, LinkedIn)
 * implements. A connector speaks one platform's real API for one account (page, IG user, X user, GBP location,
 * LinkedIn organisation); its base URL comes from platforms.json so tests point it at a local double.
 *
 * The worker records the attempt before calling publish(); when the outcome of an attempt is unknown (a worker died
 * between the call and the recorded result, or the call timed out after it was sent) it calls findPublished() before
 * posting again, so a post is never made twice.
 */

export interface SocialPost {
  publicationId: string;
  /** New for each attempt; connectors may pass it where the platform keeps a client reference. */
  attemptId: string;
  /** The title, when the platform has a place for it (Google Business event/offer title, LinkedIn article title). */
  title: string;
  /** The final text, already adapted to the platform (hashtags appended and formatted, length checked). */
  text: string;
  /** Public http(s) URLs of images or videos, in order; the kind is inferred from the extension (mediaKind). */
  mediaUrls: string[];
  /** Google Business Profile: STANDARD (default), EVENT or OFFER. */
  topicType?: 'STANDARD' | 'EVENT' | 'OFFER';
  /**
   * The attempt's deadline: the call that publishes is not sent after it (assertBeforePublishDeadline). A worker that
   * finds an attempt without a result searches the platform only once this has passed, so an attempt still under way
   * (its worker slow, not dead) cannot post after that search found nothing.
   */
  publishBy?: Date;
}

export interface PublishedPost {
  /** The platform's id of the post (Facebook PAGEID_POSTID, Instagram media id, tweet id, GBP post name, LinkedIn URN). */
  postId: string;
  /** A public link to the post, when the platform gives or implies one. */
  url: string | null;
}

/** Engagement counters; a platform that does not report one leaves it null. */
export interface EngagementMetrics {
  likes: number | null;
  shares: number | null;
  comments: number | null;
  reach: number | null;
  clicks: number | null;
  impressions: number | null;
}

export interface SocialConnector {
  readonly platform: Platform;
  /** The account this connector posts as (page id, IG user id, ...): breakers and quotas are per account. */
  readonly account: string;
  publish(post: SocialPost): Promise<PublishedPost>;
  /**
   * The post this publication already made on the platform since `since` (matched on the exact text, and for
   * Instagram also on the caption of recent media), or null when there is none. Throws PlatformError when the
   * platform cannot be asked: the worker then retries later rather than risk a duplicate.
   * `namedPostId` is a post the platform itself pointed at (PlatformError.details.existingPostId of a duplicate
   * refusal): it is checked first, as it may be older than the recent posts the search reads.
   */
  findPublished(post: SocialPost, since: Date, namedPostId?: string): Promise<PublishedPost | null>;
  /** Current counters of one of our posts (insights / public metrics). */
  fetchMetrics(postId: string): Promise<EngagementMetrics>;
  /** A cheap authenticated call (heartbeat): resolves when the platform accepts our credentials. */
  check(): Promise<void>;
}

/**
 * What went wrong, in the terms the worker acts on:
 * - transient: 5xx, network error, platform "temporary" codes: retry with backoff;
 * - rate_limited: 429, throttling codes, usage headers past 90 %: retry not before retryAfterMs;
 * - auth: token invalid or expired: the post waits for reconnection, an alert is raised;
 * - permanent: the platform refuses this content for good (the platform's message says why);
 * - duplicate: the platform refuses the post as a duplicate of a recent one (Facebook 506, X "duplicate content");
 * - unknown_outcome: the request may have reached the platform but no answer came back (timeout after sending,
 *   connection reset): the worker must ask the platform (findPublished) before posting again.
 */
export const platformErrorClasses = ['transient', 'rate_limited', 'auth', 'permanent', 'duplicate', 'unknown_outcome'] as const;
export type PlatformErrorClass = (typeof platformErrorClasses)[number];

export class PlatformError extends Error {
  constructor(
    readonly platform: Platform,
    readonly errorClass: PlatformErrorClass,
    message: string,
    /** existingPostId: the post a duplicate refusal names, when the platform says which (LinkedIn). */
    readonly details: { status?: number; platformCode?: string | number; retryAfterMs?: number; existingPostId?: string } = {},
  ) {
    super(message);
    this.name = 'PlatformError';
  }

  get retryable(): boolean {
    return this.errorClass === 'transient' || this.errorClass === 'rate_limited' || this.errorClass === 'unknown_outcome';
  }
}

/** Called just before the call that publishes: past the attempt's deadline it is not sent, and nothing is published. */
export function assertBeforePublishDeadline(platform: Platform, post: SocialPost): void {
  if (post.publishBy && Date.now() > post.publishBy.getTime()) {
    throw new PlatformError(platform, 'transient', `${platform}: the attempt ran out of time before the post was sent (nothing was published)`, {
      platformCode: 'attempt_deadline',
    });
  }
}

const videoExtensions = /\.(mp4|mov|m4v|webm|avi|mkv)$/i;

/** 'video' for a URL whose path ends with a video extension, else 'image' (media_urls carry no type). */
export function mediaKind(url: string): 'image' | 'video' {
  let path = url;
  try {
    path = new URL(url).pathname;
  } catch {
    // not a URL: the extension test on the raw text is the best guess
  }
  return videoExtensions.test(path) ? 'video' : 'image';
}
