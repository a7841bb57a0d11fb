import type { Platform } from '../../domain/publication-events.js';
import type { SlotRules } from '../../domain/publication-slots.js';
import type { PlatformsConfig } from '../../infrastructure/config/config-files.js';

/**
 * Posting limits per platform account: the platform's own API quota where it has one (Instagram: 50 posts per rolling
 * 24 h through the Content Publishing API), no minimum gap unless configured. platforms.json may set, in a platform's
 * entry, `posts_per_24h` (a number, or null for no limit) and `min_gap_minutes`.
 */
export const defaultSlotRules: Record<Platform, SlotRules> = {
  facebook: { minGapMs: 0, postsPer24h: null },
  instagram: { minGapMs: 0, postsPer24h: 50 },
  twitter: { minGapMs: 0, postsPer24h: null },
  google_business: { minGapMs: 0, postsPer24h: null },
  linkedin: { minGapMs: 0, postsPer24h: null },
};

export function slotRulesFromConfig(config: PlatformsConfig): Record<Platform, SlotRules> {
  const rules = { ...defaultSlotRules };
  for (const platform of Object.keys(rules) as Platform[]) {
    const entry = config[platform] as Record<string, unknown> | undefined;
    if (!entry) continue;
    const quota = entry.posts_per_24h;
    const gap = entry.min_gap_minutes;
    rules[platform] = {
      minGapMs: typeof gap === 'number' && gap > 0 ? gap * 60_000 : rules[platform].minGapMs,
      postsPer24h: quota === null ? null : typeof quota === 'number' && quota > 0 ? Math.floor(quota) : rules[platform].postsPer24h,
    };
  }
  return rules;
}
