import type { Platform } from '../../src/domain/publication-events.js';
import type { SocialConnector } from '../../src/platforms/social/connector.js';

/**
 * A connector whose answers the test gives, for tests about the worker, the scheduler or the status route rather than
 * a platform: by default it publishes '<account>_1', finds nothing, has no metrics and passes its check.
 */
export function scriptedConnector(
  platform: Platform,
  account: string,
  answers: Partial<Pick<SocialConnector, 'publish' | 'findPublished' | 'fetchMetrics' | 'check'>> = {},
): SocialConnector {
  return {
    platform,
    account,
    publish: async () => ({ postId: `${account}_1`, url: null }),
    findPublished: async () => null,
    fetchMetrics: async () => ({ likes: null, shares: null, comments: null, reach: null, clicks: null, impressions: null }),
    check: async () => undefined,
    ...answers,
  };
}
