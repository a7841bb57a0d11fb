import type { CircuitState } from '../../domain/service-health.js';
import type { ProviderRouter } from '../../platforms/notifications/provider-router.js';
import type { SocialConnector } from '../../platforms/social/connector.js';
import type { ExternalService } from './service-health-board.js';

type WatchedConnector = SocialConnector & { readonly state?: CircuitState; readonly isOpen?: boolean };

/** Every configured notification provider and social platform, as the board and the heartbeat see them. */
export function externalServices(router: ProviderRouter, connectors: Partial<Record<string, WatchedConnector>>): ExternalService[] {
  const providers = router.providers().map(
    (provider): ExternalService => ({
      name: provider.name,
      kind: 'provider',
      account: null,
      breaker: () => router.breakerStates()[provider.name] ?? 'closed',
      ...(provider.check ? { check: () => provider.check!() } : {}),
    }),
  );
  const platforms = Object.values(connectors)
    .filter((connector): connector is WatchedConnector => connector !== undefined)
    .map(
      (connector): ExternalService => ({
        name: connector.platform,
        kind: 'platform',
        account: connector.account,
        // Connectors without a breaker of their own (tests inject some) say at most whether they are open.
        breaker: () => connector.state ?? (connector.isOpen ? 'open' : 'closed'),
        check: () => connector.check(),
      }),
    );
  return [...providers, ...platforms];
}
