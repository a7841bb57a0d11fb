import CircuitBreaker from 'opossum';
import { PlatformError, type SocialConnector } from './connector.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerSettings {
  errorThresholdPercentage?: number;
  resetTimeoutMs?: number;
  volumeThreshold?: number;
  onStateChange?: (platform: string, account: string, state: BreakerState) => void;
}

/**
 * One opossum circuit breaker per platform account around every call of a connector. Refused content (permanent,
 * duplicate) says nothing about the platform's health and does not count; 5xx, timeouts, throttling and refused tokens
 * do. While open, calls fail at once with a transient PlatformError (nothing reached the platform).
 */
export class BreakerConnector implements SocialConnector {
  readonly platform: SocialConnector['platform'];
  readonly account: string;
  private readonly breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;

  constructor(
    private readonly inner: SocialConnector,
    settings: BreakerSettings = {},
  ) {
    this.platform = inner.platform;
    this.account = inner.account;
    this.breaker = new CircuitBreaker((call: () => Promise<unknown>) => call(), {
      timeout: false,
      errorThresholdPercentage: settings.errorThresholdPercentage ?? 50,
      resetTimeout: settings.resetTimeoutMs ?? 30_000,
      volumeThreshold: settings.volumeThreshold ?? 5,
      errorFilter: (error: unknown) => error instanceof PlatformError && (error.errorClass === 'permanent' || error.errorClass === 'duplicate'),
    });
    const report = (state: BreakerState) => () => settings.onStateChange?.(this.platform, this.account, state);
    this.breaker.on('open', report('open'));
    this.breaker.on('halfOpen', report('half_open'));
    this.breaker.on('close', report('closed'));
  }

  get state(): BreakerState {
    return this.breaker.opened ? 'open' : this.breaker.halfOpen ? 'half_open' : 'closed';
  }

  /** True while calls would be refused without reaching the platform. */
  get isOpen(): boolean {
    return this.breaker.opened;
  }

  publish(...args: Parameters<SocialConnector['publish']>) {
    return this.call(() => this.inner.publish(...args));
  }

  findPublished(...args: Parameters<SocialConnector['findPublished']>) {
    return this.call(() => this.inner.findPublished(...args));
  }

  fetchMetrics(...args: Parameters<SocialConnector['fetchMetrics']>) {
    return this.call(() => this.inner.fetchMetrics(...args));
  }

  check() {
    return this.call(() => this.inner.check());
  }

  shutdown(): void {
    this.breaker.shutdown();
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return (await this.breaker.fire(fn)) as T;
    } catch (error) {
      if (error instanceof PlatformError) throw error;
      if ((error as { code?: string } | undefined)?.code === 'EOPENBREAKER') {
        throw new PlatformError(this.platform, 'transient', `${this.platform}: circuit open after repeated failures; not called`);
      }
      throw error;
    }
  }
}
