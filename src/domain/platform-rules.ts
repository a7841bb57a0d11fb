import twitterText from 'twitter-text';
import type { Platform } from './publication-events.js';

/**
 * What each social platform accepts in one post, held as data so validation, adaptation and the suggestion read the
 * same numbers. Only hard limits are here (the platform refuses the post beyond them); advice such as "two hashtags
 * on X" is not, because breaking it publishes fine.
 */

/** X counts a weighted length (URLs 23, CJK and emoji 2); the others count Unicode code points. */
export type TextCounting = 'code_points' | 'x_weighted';

export interface TextRules {
  maxLength: number;
  counting: TextCounting;
}

export interface HashtagRules {
  /** Hashtags allowed in the posted text, those written in the title or body included; null: no hard limit. */
  max: number | null;
  /** Whether composeText appends content.hashtags to the text. */
  appended: boolean;
}

export interface MediaRules {
  /** At least one image or video is needed. */
  required: boolean;
  /** Media in one post (the images when images and videos cannot be mixed). */
  maxItems: number;
  /** 0: no video accepted. */
  maxVideos: number;
  mixesImagesAndVideos: boolean;
}

export interface PlatformRules {
  /** The platform's name in messages meant for people. */
  name: string;
  text: TextRules;
  hashtags: HashtagRules;
  media: MediaRules;
}

export const platformRules: Record<Platform, PlatformRules> = {
  facebook: {
    name: 'Facebook',
    text: { maxLength: 63_206, counting: 'code_points' },
    // Facebook sets no hashtag limit.
    hashtags: { max: null, appended: true },
    // A multi-photo post has no documented ceiling; 10 keeps Page posts within what the Graph API reliably accepts.
    media: { required: false, maxItems: 10, maxVideos: 1, mixesImagesAndVideos: false },
  },
  instagram: {
    name: 'Instagram',
    text: { maxLength: 2_200, counting: 'code_points' },
    hashtags: { max: 30, appended: true },
    // A carousel holds up to 10 images and videos, mixed.
    media: { required: true, maxItems: 10, maxVideos: 10, mixesImagesAndVideos: true },
  },
  twitter: {
    name: 'X',
    text: { maxLength: 280, counting: 'x_weighted' },
    // One or two hashtags is common advice, not a limit X enforces.
    hashtags: { max: null, appended: true },
    media: { required: false, maxItems: 4, maxVideos: 1, mixesImagesAndVideos: false },
  },
  google_business: {
    name: 'Google Business Profile',
    text: { maxLength: 1_500, counting: 'code_points' },
    // Google shows hashtags as plain text (no link, no discovery): appended they would only take room from the
    // 1,500 characters and look like noise, so they are left out; those written in the body stay as written.
    hashtags: { max: null, appended: false },
    media: { required: false, maxItems: 1, maxVideos: 0, mixesImagesAndVideos: false },
  },
  linkedin: {
    name: 'LinkedIn',
    text: { maxLength: 3_000, counting: 'code_points' },
    // LinkedIn sets no hashtag limit.
    hashtags: { max: null, appended: true },
    media: { required: false, maxItems: 9, maxVideos: 1, mixesImagesAndVideos: false },
  },
};

/** The length of a text as the platform counts it against rules.text.maxLength. */
export function textLength(text: string, counting: TextCounting): number {
  return counting === 'x_weighted' ? weightedLength(text) : [...text].length;
}

/**
 * parseTweet takes several milliseconds on a long text (its URL grammar is costly), and validating then fitting a
 * publication measures the same composed text more than once: the last few results are kept.
 */
const recentWeightedLengths = new Map<string, number>();
const RECENT_WEIGHTED_LENGTHS = 32;

function weightedLength(text: string): number {
  const known = recentWeightedLengths.get(text);
  if (known !== undefined) return known;
  const length = twitterText.parseTweet(text).weightedLength;
  if (recentWeightedLengths.size >= RECENT_WEIGHTED_LENGTHS) {
    const oldest = recentWeightedLengths.keys().next().value;
    if (oldest !== undefined) recentWeightedLengths.delete(oldest);
  }
  recentWeightedLengths.set(text, length);
  return length;
}

/**
 * Every `#word` in a text. Deliberately generous (a `#` inside a URL or `#a#b` count too): counting a hashtag the
 * platform would not is a needless trim, missing one is a post refused at publishing time.
 */
const hashtagPattern = /#[\p{L}\p{M}\p{N}_]+/gu;

export function countHashtags(text: string): number {
  return text.match(hashtagPattern)?.length ?? 0;
}
