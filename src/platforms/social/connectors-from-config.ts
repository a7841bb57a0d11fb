import type { Platform } from '../../domain/publication-events.js';
import type { PlatformsConfig } from '../../infrastructure/config/config-files.js';
import type { OutboundCheckOptions } from '../../infrastructure/http/outbound-guard.js';
import { BreakerConnector, type BreakerSettings } from './breaker-connector.js';
import { retryingCalls, type CallRetryPolicy } from './call-retry.js';
import type { SocialConnector } from './connector.js';
import { createFacebookConnector } from './facebook.js';
import { createGoogleBusinessConnector } from './google-business.js';
import { createInstagramConnector } from './instagram.js';
import { createLinkedInConnector } from './linkedin.js';
import type { PlatformCalls } from './platform-calls.js';
import { createXConnector } from './x.js';

type Factory = (
  config: unknown,
  options?: { timeoutMs?: number; outbound?: OutboundCheckOptions; accessToken?: () => Promise<string>; calls?: PlatformCalls },
) => SocialConnector;

const factories: Record<Platform, Factory> = {
  facebook: createFacebookConnector,
  instagram: createInstagramConnector,
  twitter: createXConnector,
  google_business: createGoogleBusinessConnector,
  linkedin: createLinkedInConnector,
};

/**
 * One connector per platform entry in platforms.json, each behind its own circuit breaker, which counts every HTTP
 * call the connector makes; a call that failed for a passing reason is retried inside the operation when it may be
 * sent again (call-retry.ts), each try going through the breaker. A platform without an entry has no connector:
 * publishing to it is refused when the publication is requested.
 */
export function connectorsFromConfig(
  config: PlatformsConfig,
  /**
   * outbound: which media hosts the connectors that download media (X, LinkedIn) may reach; default public ones only.
   * accessToken: each platform's token provider (the token vault's, see platform-tokens.ts); none: config access_token.
   * retry: how a call that failed for a passing reason is tried again within the operation (call-retry.ts defaults).
   */
  options: {
    timeoutMs?: number;
    breaker?: BreakerSettings;
    retry?: CallRetryPolicy;
    outbound?: OutboundCheckOptions;
    accessToken?: (platform: Platform) => (() => Promise<string>) | undefined;
  } = {},
): Partial<Record<Platform, BreakerConnector>> {
  const connectors: Partial<Record<Platform, BreakerConnector>> = {};
  for (const platform of Object.keys(factories) as Platform[]) {
    const entry = config[platform];
    if (!entry) continue;
    try {
      const accessToken = options.accessToken?.(platform);
      connectors[platform] = new BreakerConnector(
        (guarded) => factories[platform](entry, { timeoutMs: options.timeoutMs, outbound: options.outbound, accessToken, calls: retryingCalls(guarded, options.retry) }),
        options.breaker,
      );
    } catch (error) {
      throw new Error(`platforms.json ${platform}: ${(error as Error).message}`);
    }
  }
  return connectors;
}
