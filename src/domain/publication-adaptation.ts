import { platformRules } from './platform-rules.js';
import type { Platform, PublicationContent } from './publication-events.js';

/**
 * The text each platform gets. The worker posts exactly composeText's output and the duplicate-post check compares
 * on it, so it depends on nothing but its arguments.
 */

export const ELLIPSIS = '…';

/** `#tag` with exactly one leading #, spaces around removed; '' when nothing is left. */
export function normaliseHashtag(tag: string): string {
  const word = tag.trim().replace(/^[#＃]+/u, '');
  return word === '' ? '' : `#${word}`;
}

/**
 * The hashtags as given, without the empty ones and without repeats (compared case-insensitively, so #Pizza and
 * pizza are one tag): the first spelling is kept, in the original order.
 */
export function uniqueHashtags(tags: readonly string[]): string[] {
  const seen = new Set<string>();
  return tags.filter((tag) => {
    const normalised = normaliseHashtag(tag);
    const key = normalised.normalize('NFC').toLowerCase();
    if (normalised === '' || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The hashtags as one line: `#a #b #c`. */
export function hashtagLine(tags: readonly string[]): string {
  return uniqueHashtags(tags).map(normaliseHashtag).join(' ');
}

/**
 * The exact text posted on the platform: the title, the body, then the hashtags, each block separated by a blank
 * line and left out when empty. Hashtags are appended only where the platform makes them work (see platformRules).
 */
export function composeText(content: PublicationContent, platform: Platform): string {
  const hashtags = platformRules[platform].hashtags.appended ? hashtagLine(content.hashtags) : '';
  return [content.title.trim(), content.body.trim(), hashtags].filter((part) => part !== '').join('\n\n');
}

/**
 * The longest form of `text` that `fits` accepts: the text itself, else its longest run of whole words followed by
 * '…', else (only when not even its first word fits) the longest start of that first word followed by '…'.
 * '' when nothing fits. `fits` is expected to accept shorter texts more readily; the result is always one `fits`
 * accepted.
 */
export function shortenToFit(text: string, fits: (candidate: string) => boolean): string {
  if (fits(text)) return text;
  return shortenAtWords(text, fits) || shortenFirstWord(text, fits);
}

/** The longest run of whole words + '…' that fits, or '' (the whole text is not a candidate: it may not fit). */
export function shortenAtWords(text: string, fits: (candidate: string) => boolean): string {
  const trimmed = text.trim();
  const wordEnds = [...trimmed.matchAll(/\S(?=\s)/gu)].map((match) => match.index + match[0].length);
  return longestFitting(wordEnds.map((end) => `${trimmed.slice(0, end)}${ELLIPSIS}`), fits);
}

/** The longest start of the first word (whole characters as people see them) + '…' that fits, or ''. */
function shortenFirstWord(text: string, fits: (candidate: string) => boolean): string {
  const firstWord = text.trim().split(/\s/u)[0] ?? '';
  const graphemes = [...new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(firstWord)].map(
    (part) => part.segment,
  );
  const starts = graphemes.slice(0, -1).map((_, index) => `${graphemes.slice(0, index + 1).join('')}${ELLIPSIS}`);
  return longestFitting(starts, fits);
}

/**
 * The last candidate (they grow longer) that fits. Galloping from the shortest, then bisecting: ~2·log2(answer)
 * calls, each on a text not much longer than the answer, as measuring a long text is costly (X's weighted length).
 * Only a candidate `fits` accepted is returned, even if shortening is not perfectly monotonic.
 */
function longestFitting(candidates: string[], fits: (candidate: string) => boolean): string {
  let best = -1;
  let probe = 0;
  while (probe < candidates.length && fits(candidates[probe] ?? '')) {
    best = probe;
    probe = probe * 2 + 1;
  }
  let low = best + 1;
  let high = Math.min(probe, candidates.length) - 1;
  while (low <= high) {
    const middle = Math.floor((low + high) / 2);
    if (fits(candidates[middle] ?? '')) {
      best = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return best === -1 ? '' : (candidates[best] ?? '');
}
