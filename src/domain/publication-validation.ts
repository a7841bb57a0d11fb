import { mediaKind } from '../platforms/social/connector.js';
import { countHashtags, platformRules, textLength } from './platform-rules.js';
import { composeText, ELLIPSIS, shortenAtWords, shortenToFit, uniqueHashtags } from './publication-adaptation.js';
import type { Platform, PublicationContent } from './publication-events.js';

/**
 * Whether a publication's content suits each of its platforms (platformRules), and when it does not, a whole
 * alternative the client can send back as is: content trimmed to fit, and the platforms trimming cannot satisfy
 * dropped with the reason.
 *
 * Media kinds come from the connector's mediaKind so that validation and the worker never disagree on what is a
 * video. The basic shape (at least one platform, no duplicate, a body or a medium) stays the decider's check.
 */

export type ViolationCode =
  | 'text_too_long'
  | 'too_many_hashtags'
  | 'media_required'
  | 'too_many_media'
  | 'too_many_videos'
  | 'video_not_allowed'
  | 'mixed_media_not_allowed';

export interface Violation {
  platform: Platform;
  field: 'content.body' | 'content.hashtags' | 'content.media_urls';
  code: ViolationCode;
  /** For people, in English: names the limit and the actual value. */
  message: string;
  limit?: number;
  actual?: number;
}

export interface DroppedPlatform {
  platform: Platform;
  reason: string;
}

export interface PublicationSuggestion {
  content: PublicationContent;
  /** Never empty: without a platform left there is no suggestion. */
  platforms: Platform[];
  dropped_platforms: DroppedPlatform[];
}

export interface ValidationResult {
  valid: boolean;
  violations: Violation[];
  /** null when valid, or when no platform can take the content. */
  suggestion: PublicationSuggestion | null;
}

export interface PublicationDraft {
  content: PublicationContent;
  platforms: Platform[];
}

export function validatePublication(input: PublicationDraft): ValidationResult {
  const platforms = [...new Set(input.platforms)];
  const violations = platforms.flatMap((platform) => platformViolations(input.content, platform));
  if (violations.length === 0) return { valid: true, violations, suggestion: null };
  return { valid: false, violations, suggestion: suggest(input.content, platforms) };
}

// ---- violations ---------------------------------------------------------------------------------------------------

function platformViolations(content: PublicationContent, platform: Platform): Violation[] {
  const text = composeText(content, platform);
  return [
    ...textViolations(text, platform),
    ...hashtagViolations(text, content, platform),
    ...mediaViolations(content.media_urls, platform),
  ];
}

function textViolations(text: string, platform: Platform): Violation[] {
  const { name, text: rules } = platformRules[platform];
  const actual = textLength(text, rules.counting);
  if (actual <= rules.maxLength) return [];
  const counting = rules.counting === 'x_weighted' ? ' (weighted: a link counts 23, an emoji or CJK character 2)' : '';
  return [
    {
      platform,
      field: 'content.body',
      code: 'text_too_long',
      message: `${name} allows ${rules.maxLength} characters${counting}; the text posted there (title, body and hashtags) has ${actual}`,
      limit: rules.maxLength,
      actual,
    },
  ];
}

function hashtagViolations(text: string, content: PublicationContent, platform: Platform): Violation[] {
  const { name, hashtags: rules } = platformRules[platform];
  const actual = countHashtags(text);
  if (rules.max === null || actual <= rules.max) return [];
  const written = countHashtags(composeText({ ...content, hashtags: [] }, platform));
  const origin = written > 0 ? `, ${written} of them written in the title or body` : '';
  return [
    {
      platform,
      field: 'content.hashtags',
      code: 'too_many_hashtags',
      message: `${name} allows ${rules.max} hashtags in a post; the text posted there has ${actual}${origin}`,
      limit: rules.max,
      actual,
    },
  ];
}

function mediaViolations(urls: readonly string[], platform: Platform): Violation[] {
  const { name, media: rules } = platformRules[platform];
  const videos = urls.filter(isVideo).length;
  const images = urls.length - videos;
  const field = 'content.media_urls';
  const violations: Violation[] = [];
  if (rules.required && urls.length === 0) {
    const message = `${name} needs at least one image or video; the publication has none`;
    violations.push({ platform, field, code: 'media_required', message, limit: 1, actual: 0 });
  }
  if (videos > 0 && rules.maxVideos === 0) {
    const message = `${name} accepts no video; the publication has ${count(videos, 'video')}`;
    violations.push({ platform, field, code: 'video_not_allowed', message, limit: 0, actual: videos });
  } else if (videos > rules.maxVideos) {
    const message = `${name} allows at most ${count(rules.maxVideos, 'video')} per post; the publication has ${videos}`;
    violations.push({ platform, field, code: 'too_many_videos', message, limit: rules.maxVideos, actual: videos });
  }
  // Where no video is accepted, mixing is moot: video_not_allowed already says it all.
  if (videos > 0 && images > 0 && !rules.mixesImagesAndVideos && rules.maxVideos > 0) {
    const message = `${name} cannot mix images and videos in one post; the publication has ${count(images, 'image')} and ${count(videos, 'video')}`;
    violations.push({ platform, field, code: 'mixed_media_not_allowed', message });
  }
  // Where images and videos cannot be mixed, the media limit is the images' (videos have their own).
  const counted = rules.mixesImagesAndVideos ? urls.length : images;
  if (counted > rules.maxItems) {
    const what = rules.mixesImagesAndVideos ? 'images and videos' : 'images';
    const message = `${name} allows at most ${rules.maxItems} ${what} per post; the publication has ${counted}`;
    violations.push({ platform, field, code: 'too_many_media', message, limit: rules.maxItems, actual: counted });
  }
  return violations;
}

const isVideo = (url: string): boolean => mediaKind(url) === 'video';
const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

// ---- suggestion ---------------------------------------------------------------------------------------------------

/**
 * Trims the content for the remaining platforms, then validates the result: a platform still in violation cannot be
 * satisfied by trimming and is dropped, and the trimming starts again from the original content without it (fewer
 * platforms may need less trimming). Each round drops a platform or returns, so this ends.
 */
function suggest(content: PublicationContent, platforms: Platform[]): PublicationSuggestion | null {
  const dropped: DroppedPlatform[] = [];
  let remaining = platforms;
  while (remaining.length > 0) {
    const trimmed = trimFor(content, remaining);
    const unfit = trimmed.unfit.length > 0 ? trimmed.unfit : unfitPlatforms(trimmed.content, remaining);
    if (unfit.length === 0) {
      const inRequestOrder = (a: DroppedPlatform, b: DroppedPlatform): number =>
        platforms.indexOf(a.platform) - platforms.indexOf(b.platform);
      return { content: trimmed.content, platforms: remaining, dropped_platforms: dropped.sort(inRequestOrder) };
    }
    dropped.push(...unfit);
    remaining = remaining.filter((platform) => !unfit.some((u) => u.platform === platform));
  }
  return null;
}

/** The content trimmed for all the platforms at once, or the platforms that must go before trimming can start. */
function trimFor(
  content: PublicationContent,
  platforms: Platform[],
): { content: PublicationContent; unfit: DroppedPlatform[] } {
  const media = fitMedia(content, platforms);
  if (media.unfit.length > 0) return { content, unfit: media.unfit };
  const text = fitText({ ...content, media_urls: media.urls }, platforms);
  return { content: fitHashtagCount(text, platforms), unfit: [] };
}

function unfitPlatforms(content: PublicationContent, platforms: Platform[]): DroppedPlatform[] {
  return platforms.flatMap((platform) => {
    const violations = platformViolations(content, platform);
    if (violations.length === 0) return [];
    return [{ platform, reason: violations.map((violation) => violation.message).join('; ') }];
  });
}

/**
 * The media every platform accepts: no video if one platform refuses videos, only the first medium's kind if one
 * cannot mix, then the first ones up to the strictest counts. Removing the videos is not done when it would leave
 * no medium while one is needed (a platform requires one, or the publication has no body): the platforms refusing
 * videos are dropped instead, as the media are the post's substance.
 */
function fitMedia(
  content: PublicationContent,
  platforms: Platform[],
): { urls: string[]; unfit: DroppedPlatform[] } {
  const urls = content.media_urls;
  const rules = platforms.map((platform) => platformRules[platform].media);
  const refusingVideos = platforms.filter((platform) => platformRules[platform].media.maxVideos === 0);
  let kept = refusingVideos.length > 0 ? urls.filter((url) => !isVideo(url)) : urls;
  if (kept.length === 0 && urls.length > 0) {
    const needing = platforms.filter((platform) => platformRules[platform].media.required).map(nameOf);
    if (needing.length > 0 || content.body.trim() === '') {
      const left = needing.length > 0 ? `${needing.join(' and ')} without a medium` : 'nothing to post';
      const unfit = refusingVideos.map((platform) => ({
        platform,
        reason: `${nameOf(platform)} accepts no video and the publication's media are all videos; removing them would leave ${left}`,
      }));
      return { urls, unfit };
    }
  }
  const first = kept[0];
  if (first !== undefined && rules.some((rule) => !rule.mixesImagesAndVideos)) {
    kept = kept.filter((url) => isVideo(url) === isVideo(first));
  }
  const maxItems = Math.min(...rules.map((rule) => rule.maxItems));
  const maxVideos = Math.min(...rules.map((rule) => rule.maxVideos));
  let videos = 0;
  const fitted: string[] = [];
  for (const url of kept) {
    if (fitted.length === maxItems) break;
    if (isVideo(url)) {
      if (videos === maxVideos) continue;
      videos += 1;
    }
    fitted.push(url);
  }
  return { urls: fitted.length === urls.length ? urls : fitted, unfit: [] };
}

const nameOf = (platform: Platform): string => platformRules[platform].name;

function textFits(content: PublicationContent, platforms: Platform[]): boolean {
  return platforms.every((platform) => {
    const rules = platformRules[platform].text;
    return textLength(composeText(content, platform), rules.counting) <= rules.maxLength;
  });
}

/**
 * Content whose composed text fits every platform. The body gives way first (whole words, '…'), keeping at least
 * its first word; hashtags are dropped from the end only when even that does not fit, as the body carries the
 * message. Only when the title and the body's first word cannot fit together is the title shortened, and a word cut
 * in the middle only when it is longer than the room left. Content nothing can fit is returned unchanged: the
 * caller's final check then drops the platform rather than post an empty body.
 */
function fitText(content: PublicationContent, platforms: Platform[]): PublicationContent {
  const fits = (candidate: PublicationContent): boolean => textFits(candidate, platforms);
  if (fits(content)) return content;
  const body = content.body.trim();
  const tags = uniqueHashtags(content.hashtags);
  for (let kept = tags.length; kept >= 0; kept -= 1) {
    const withTags = { ...content, hashtags: kept === tags.length ? content.hashtags : tags.slice(0, kept) };
    // Measuring the least of the body first spares measuring a long body for every hashtag count that cannot work.
    if (!fits({ ...withTags, body: firstWordOf(body) })) continue;
    if (fits(withTags)) return withTags;
    const shortened = shortenAtWords(body, (candidate) => fits({ ...withTags, body: candidate }));
    if (shortened !== '') return { ...withTags, body: shortened };
  }
  const bare = { ...content, hashtags: [] };
  const smallestBody = shortenToFit(firstWordOf(body), (candidate) => fits({ ...bare, title: '', body: candidate }));
  const title = shortenToFit(content.title, (candidate) => fits({ ...bare, title: candidate, body: smallestBody }));
  const shortened = shortenToFit(content.body, (candidate) => fits({ ...bare, title, body: candidate }));
  return body !== '' && shortened === '' ? content : { ...bare, title, body: shortened };
}

/** The first word, followed by '…' when more follows: the least of the body a shortened post keeps. */
function firstWordOf(body: string): string {
  const words = body.split(/\s+/u).filter((word) => word !== '');
  const first = words[0] ?? '';
  return words.length > 1 ? `${first}${ELLIPSIS}` : first;
}

/** Drops hashtags from the end until every platform with a hashtag limit is within it, counting those in the text. */
function fitHashtagCount(content: PublicationContent, platforms: Platform[]): PublicationContent {
  const limited = platforms.filter((platform) => platformRules[platform].hashtags.max !== null);
  const within = (candidate: PublicationContent): boolean =>
    limited.every(
      (platform) => countHashtags(composeText(candidate, platform)) <= (platformRules[platform].hashtags.max ?? Infinity),
    );
  if (within(content)) return content;
  const tags = uniqueHashtags(content.hashtags);
  for (let kept = tags.length; kept >= 0; kept -= 1) {
    const candidate = { ...content, hashtags: tags.slice(0, kept) };
    if (within(candidate)) return candidate;
  }
  return content;
}
