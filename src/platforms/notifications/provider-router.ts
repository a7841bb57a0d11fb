import CircuitBreaker from 'opossum';
import { ProviderError, type NotificationChannel, type NotificationProvider, type OutgoingMessage, type SendResult } from './provider.js';
import { TokenBucket } from './token-bucket.js';

export interface ChannelProviders {
  primary: NotificationProvider;
  secondary?: NotificationProvider;
}

export interface RouterOptions {
  /** Sends per second per provider (token bucket); by provider name, with a default. */
  ratePerSecond?: Record<string, number>;
  defaultRatePerSecond?: number;
  breaker?: { errorThresholdPercentage?: number; resetTimeoutMs?: number; volumeThreshold?: number };
  onBreakerChange?: (provider: string, state: 'open' | 'half_open' | 'closed') => void;
  /** Told after each send to a provider (metrics): how long it took and, when it failed, the error class. */
  onCall?: (call: ProviderCall) => void;
}

export interface ProviderCall {
  provider: string;
  durationMs: number;
  /** null on success; a ProviderError's class, 'circuit_open' when the breaker refused, 'unexpected' otherwise. */
  errorClass: string | null;
}

export interface RoutedResult extends SendResult {
  /** true when the secondary provider sent it. */
  failedOver: boolean;
}

/**
 * Chooses the provider for a message: the channel's primary, through its circuit breaker and token bucket; the
 * secondary when the primary's breaker is open or the primary failed with a retryable error. Errors that retrying
 * elsewhere cannot fix (permanent, suppressed, auth of the only provider) are thrown as they are.
 */
export class ProviderRouter {
  private readonly breakers = new Map<string, CircuitBreaker<[OutgoingMessage], SendResult>>();
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly channels: Partial<Record<NotificationChannel, ChannelProviders>>,
    private readonly options: RouterOptions = {},
  ) {
    for (const { primary, secondary } of Object.values(channels)) {
      for (const provider of [primary, secondary]) if (provider) this.prepare(provider);
    }
  }

  has(channel: NotificationChannel): boolean {
    return this.channels[channel] !== undefined;
  }

  /** Every configured provider, primaries and secondaries, once each (heartbeats, status). */
  providers(): NotificationProvider[] {
    const all = Object.values(this.channels).flatMap(({ primary, secondary }) => (secondary ? [primary, secondary] : [primary]));
    return [...new Map(all.map((provider) => [provider.name, provider])).values()];
  }

  breakerStates(): Record<string, 'open' | 'half_open' | 'closed'> {
    return Object.fromEntries([...this.breakers].map(([name, breaker]) => [name, breaker.opened ? 'open' : breaker.halfOpen ? 'half_open' : 'closed']));
  }

  async send(message: OutgoingMessage): Promise<RoutedResult> {
    const route = this.channels[message.channel];
    if (!route) throw new ProviderError('none', 'permanent', `No provider is configured for ${message.channel} (notifications.json)`);
    try {
      return { ...(await this.through(route.primary, message)), failedOver: false };
    } catch (error) {
      if (!route.secondary || !shouldFailOver(error)) throw error;
      return { ...(await this.through(route.secondary, message)), failedOver: true };
    }
  }

  shutdown(): void {
    for (const breaker of this.breakers.values()) breaker.shutdown();
  }

  private async through(provider: NotificationProvider, message: OutgoingMessage): Promise<SendResult> {
    const breaker = this.breakers.get(provider.name)!;
    let started = performance.now();
    const report = (errorClass: string | null) => this.options.onCall?.({ provider: provider.name, durationMs: performance.now() - started, errorClass });
    // Refused before the token bucket: a message the circuit turns away must not use up the provider's rate.
    if (breaker.opened) {
      report('circuit_open');
      throw circuitOpen(provider.name);
    }
    await this.buckets.get(provider.name)!.take();
    started = performance.now();
    try {
      const result = await breaker.fire(message);
      report(null);
      return result;
    } catch (error) {
      if ((error as { code?: string }).code === 'EOPENBREAKER') {
        report('circuit_open');
        throw circuitOpen(provider.name);
      }
      report(error instanceof ProviderError ? error.errorClass : 'unexpected');
      throw error;
    }
  }

  private prepare(provider: NotificationProvider): void {
    if (this.breakers.has(provider.name)) return;
    const settings = this.options.breaker ?? {};
    const breaker = new CircuitBreaker((message: OutgoingMessage) => provider.send(message), {
      timeout: false, // providers enforce their own HTTP timeouts
      errorThresholdPercentage: settings.errorThresholdPercentage ?? 50,
      resetTimeout: settings.resetTimeoutMs ?? 30_000,
      volumeThreshold: settings.volumeThreshold ?? 10,
      // A refused message says nothing about the provider's health; only failures a retry could fix count.
      errorFilter: (error: unknown) => error instanceof ProviderError && !error.retryable && error.errorClass !== 'auth',
    });
    breaker.on('open', () => this.options.onBreakerChange?.(provider.name, 'open'));
    breaker.on('halfOpen', () => this.options.onBreakerChange?.(provider.name, 'half_open'));
    breaker.on('close', () => this.options.onBreakerChange?.(provider.name, 'closed'));
    this.breakers.set(provider.name, breaker);
    const rate = this.options.ratePerSecond?.[provider.name] ?? this.options.defaultRatePerSecond ?? defaultRates[provider.name] ?? 10;
    this.buckets.set(provider.name, new TokenBucket(rate));
  }
}

/**
 * Conservative sends per second when notifications.json says nothing: what a plain account of each provider takes
 * (a Twilio long code sends about one SMS a second; SendGrid and push services take far more).
 */
const defaultRates: Record<string, number> = { sendgrid: 500, mailjet: 300, smtp: 20, twilio: 1, ovh: 5, webpush: 500, fcm: 500 };

/** The provider was not called: its circuit is open (or half open, its one trial call under way). */
export const CIRCUIT_OPEN = 'circuit_open';

function circuitOpen(provider: string): ProviderError {
  return new ProviderError(provider, 'transient', `${provider} is failing: circuit open`, { providerCode: CIRCUIT_OPEN });
}

/** Whether an error of send() means no provider was called because every circuit of the channel was open. */
export function isCircuitOpen(error: unknown): boolean {
  return error instanceof ProviderError && error.details.providerCode === CIRCUIT_OPEN;
}

function shouldFailOver(error: unknown): boolean {
  if (error instanceof ProviderError) return error.retryable || error.errorClass === 'auth';
  return true; // an unexpected error from the primary: the secondary may still work
}
