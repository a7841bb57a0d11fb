import type { Kysely } from 'kysely';
import type { Platform } from '../../domain/publication-events.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import { utcText } from '../../infrastructure/time/utc-text.js';
import { parisText } from '../analytics/paris-calendar.js';
import type { EngagementTable } from './engagement-table.js';
import { nextSlotStart, rankSlots, type SlotRanking, type weekdayNames } from './posting-slots.js';

/** Below this many measured posts, a slot is not ranked: two lucky posts are no pattern. */
export const DEFAULT_MIN_POSTS = 3;
/** How far back posts count: a year covers every season of the restaurant's calendar. */
export const DEFAULT_LOOKBACK_DAYS = 365;
/** Suggestions per platform when scheduling. */
export const SUGGESTIONS_PER_PLATFORM = 3;

const DAY_MS = 86_400_000;

export interface SuggestedTime {
  platform: Platform;
  scheduled_time: string;
  scheduled_time_local: string;
  day: (typeof weekdayNames)[number];
  hour: number;
  posts: number;
  interactions_per_post: number;
  lift: number | null;
}

/**
 * Best posting times per platform, from the engagement read model (publication_engagement: each published post with
 * its latest counters, rebuilt from PlatformPublished and the engagement events). Only posts measured at least once
 * count: a post whose platform never reported counters (Google Business Profile) says nothing about its hour.
 */
export class BestTimes {
  private readonly db: Kysely<EngagementTable>;

  constructor(db: SharedDatabase) {
    this.db = db as Kysely<EngagementTable>;
  }

  async ranking(platform: Platform, options: { from: Date; to: Date; minPosts: number }): Promise<SlotRanking> {
    const posts = await this.db
      .selectFrom('publication_engagement')
      .select(['published_at', 'likes', 'shares', 'comments', 'clicks', 'reach'])
      .where('platform', '=', platform)
      .where('measured_at', 'is not', null)
      .where('published_at', '>=', options.from)
      .where('published_at', '<', options.to)
      .execute();
    return rankSlots(posts, options.minPosts);
  }

  /**
   * For each platform, the next starts (after `after`) of its best slots over the last year, best first: what a
   * scheduling screen offers next to the time asked. A platform without enough history offers none.
   */
  async suggestions(platforms: readonly Platform[], after: Date): Promise<SuggestedTime[]> {
    const from = new Date(after.getTime() - DEFAULT_LOOKBACK_DAYS * DAY_MS);
    const suggested: SuggestedTime[] = [];
    for (const platform of new Set(platforms)) {
      const { ranked } = await this.ranking(platform, { from, to: after, minPosts: DEFAULT_MIN_POSTS });
      for (const slot of ranked.slice(0, SUGGESTIONS_PER_PLATFORM)) {
        const at = nextSlotStart(slot, after);
        suggested.push({
          platform,
          scheduled_time: utcText(at),
          scheduled_time_local: parisText(at),
          day: slot.day,
          hour: slot.hour,
          posts: slot.posts,
          interactions_per_post: slot.interactions_per_post,
          lift: slot.lift,
        });
      }
    }
    return suggested;
  }
}
