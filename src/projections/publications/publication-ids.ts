import { z } from 'zod';
import { publicationPlatforms, type Platform } from '../../domain/publication-events.js';

/**
 * Per-platform publication ids, as POST /publish answers them ({"facebook": "fb_<uuid>", ...}): the publication's
 * uuid behind a platform prefix, so each one leads back to the publication and says which platform it is about.
 */

const prefixes = {
  facebook: 'fb',
  instagram: 'ig',
  twitter: 'x',
  google_business: 'gbp',
  linkedin: 'li',
} as const satisfies Record<Platform, string>;

const platformByPrefix = new Map<string, Platform>(publicationPlatforms.map((platform) => [prefixes[platform], platform]));
// The same check as the events' publication_id, so every id the store accepts can be looked up.
const uuid = z.uuid();

export function platformPublicationId(platform: Platform, publicationId: string): string {
  return `${prefixes[platform]}_${publicationId}`;
}

/** The publication_ids map of a publication: one per platform it targets. */
export function publicationIdsOf(publicationId: string, platforms: readonly Platform[]): Partial<Record<Platform, string>> {
  return Object.fromEntries(platforms.map((platform) => [platform, platformPublicationId(platform, publicationId)]));
}

/** A bare uuid (platform null) or a per-platform id; null for anything else. Case-insensitive, uuid returned lowercase. */
export function parsePublicationId(text: string): { publicationId: string; platform: Platform | null } | null {
  const lower = text.trim().toLowerCase();
  const underscore = lower.indexOf('_');
  const platform = underscore === -1 ? null : platformByPrefix.get(lower.slice(0, underscore));
  if (platform === undefined) return null;
  const publicationId = underscore === -1 ? lower : lower.slice(underscore + 1);
  return uuid.safeParse(publicationId).success ? { publicationId, platform } : null;
}
