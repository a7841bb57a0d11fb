import { parisOffsetMinutes } from '../analytics/paris-calendar.js';

/**
 * Posting slots: a weekday and an hour of the restaurant's clock (Europe/Paris), where past posts are grouped to find
 * the times that bring the most engagement. Weekdays are ISO: 1 = Monday … 7 = Sunday.
 */

export const weekdayNames = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;

const HOUR_MS = 3_600_000;

export interface Slot {
  weekday: number;
  hour: number;
}

/** The Paris weekday and hour an instant falls in. */
export function parisSlotOf(instant: Date): Slot {
  const local = new Date(instant.getTime() + parisOffsetMinutes(instant) * 60_000);
  return { weekday: ((local.getUTCDay() + 6) % 7) + 1, hour: local.getUTCHours() };
}

/**
 * The next start of a slot strictly after an instant (within 8 days). An hour the clocks skip (02:00 on the last
 * Sunday of March) is found a week later.
 */
export function nextSlotStart(slot: Slot, after: Date): Date {
  let hour = Math.floor(after.getTime() / HOUR_MS) * HOUR_MS + HOUR_MS;
  for (let step = 0; step < 24 * 8; step++, hour += HOUR_MS) {
    const candidate = new Date(hour);
    const at = parisSlotOf(candidate);
    if (at.weekday === slot.weekday && at.hour === slot.hour) return candidate;
  }
  throw new Error(`no ${weekdayNames[slot.weekday - 1]} ${slot.hour}:00 within 8 days`);
}

/** What a past post counts for: when it was published, and its latest counters (null: not reported). */
export interface PastPost {
  published_at: Date;
  likes: number | null;
  shares: number | null;
  comments: number | null;
  clicks: number | null;
  reach: number | null;
}

export interface SlotFigures extends Slot {
  day: (typeof weekdayNames)[number];
  posts: number;
  likes: number;
  shares: number;
  comments: number;
  clicks: number;
  /** likes + shares + comments + clicks. */
  interactions: number;
  interactions_per_post: number;
  /** Mean reach of the posts whose platform reports it; null when none does. */
  reach_per_post: number | null;
  /** Interactions over reach, for the posts that report reach; null when none does. */
  engagement_rate: number | null;
  /** interactions_per_post over the mean of every post of the period (1.5: 50 % more than usual). */
  lift: number | null;
}

export interface SlotRanking {
  posts: number;
  interactions_per_post: number | null;
  /** Slots with at least minPosts posts, best first: most interactions per post, then more posts, then earlier. */
  ranked: SlotFigures[];
  /** Slots with posts, but fewer than minPosts: too few to rank. */
  below_min_posts: number;
}

const round = (value: number, decimals: number) => Math.round(value * 10 ** decimals) / 10 ** decimals;

/** Groups past posts by Paris weekday × hour and ranks the slots that have enough posts. */
export function rankSlots(posts: readonly PastPost[], minPosts: number): SlotRanking {
  const slots = new Map<string, { slot: Slot; posts: PastPost[] }>();
  for (const post of posts) {
    const slot = parisSlotOf(post.published_at);
    const key = `${slot.weekday}:${slot.hour}`;
    const group = slots.get(key) ?? { slot, posts: [] };
    group.posts.push(post);
    slots.set(key, group);
  }
  const total = posts.reduce((sum, post) => sum + interactionsOf(post), 0);
  const overall = posts.length === 0 ? null : total / posts.length;
  const figures = [...slots.values()].map(({ slot, posts: group }) => figuresOf(slot, group, overall));
  const ranked = figures
    .filter((f) => f.posts >= minPosts)
    .sort((a, b) => b.interactions_per_post - a.interactions_per_post || b.posts - a.posts || a.weekday - b.weekday || a.hour - b.hour);
  return { posts: posts.length, interactions_per_post: overall === null ? null : round(overall, 2), ranked, below_min_posts: figures.length - ranked.length };
}

function interactionsOf(post: PastPost): number {
  return (post.likes ?? 0) + (post.shares ?? 0) + (post.comments ?? 0) + (post.clicks ?? 0);
}

function figuresOf(slot: Slot, posts: PastPost[], overall: number | null): SlotFigures {
  const sum = (name: 'likes' | 'shares' | 'comments' | 'clicks') => posts.reduce((total, post) => total + (post[name] ?? 0), 0);
  const interactions = posts.reduce((total, post) => total + interactionsOf(post), 0);
  const reached = posts.filter((post) => post.reach !== null);
  const reach = reached.reduce((total, post) => total + post.reach!, 0);
  const perPost = interactions / posts.length;
  return {
    ...slot,
    day: weekdayNames[slot.weekday - 1]!,
    posts: posts.length,
    likes: sum('likes'),
    shares: sum('shares'),
    comments: sum('comments'),
    clicks: sum('clicks'),
    interactions,
    interactions_per_post: round(perPost, 2),
    reach_per_post: reached.length === 0 ? null : round(reach / reached.length, 2),
    engagement_rate: reach === 0 ? null : round(reached.reduce((total, post) => total + interactionsOf(post), 0) / reach, 4),
    lift: overall ? round(perPost / overall, 2) : null,
  };
}
