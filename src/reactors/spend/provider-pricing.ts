import type { NotificationsConfig } from '../../infrastructure/config/config-files.js';
import { providerEntries } from '../../platforms/notifications/providers-from-config.js';

/** A provider's configured price (notifications.json unit_cost, cost_currency): per message, or per credit for OVH. */
export interface ProviderPricing {
  unitCost: number;
  currency: string;
}

/** unit_cost of each configured provider entry, by provider name; entries without one are absent. */
export function pricingFromConfig(config: NotificationsConfig): Map<string, ProviderPricing> {
  const pricing = new Map<string, ProviderPricing>();
  for (const entry of providerEntries(config)) {
    if (typeof entry.unit_cost !== 'number') continue;
    pricing.set(entry.provider, { unitCost: entry.unit_cost, currency: typeof entry.cost_currency === 'string' ? entry.cost_currency : 'EUR' });
  }
  return pricing;
}
