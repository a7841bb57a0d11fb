import CircuitBreaker from 'opossum';
import { PlatformError, type SocialConnector } from './connector.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerSettings {
  errorThresholdPercentage?: number;
  resetTimeoutMs?: number;
  volumeThreshold?: number;
  onStateChange?: (platform: string, account: string, state: BreakerState) => void;
  /** Told after each call to the platform (metrics): which call, how long, and the error class when it failed. */
  onCall?: (call: PlatformCall) => void;
}

export interface PlatformCall {
  platform: string;
  operation: 'publish' | 'findPublished' | 'fetchMetrics' | 'check';
  durationMs: number;
  /** null on success; a PlatformError's class, 'circuit_open' when the breaker refused, 'unexpected' otherwise. */
  errorClass: string | null;
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
    private readonly settings: BreakerSettings = {},
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
    return this.call('publish', () => this.inner.publish(...args));
  }

  findPublished(...args: Parameters<SocialConnector['findPublished']>) {
    return this.call('findPublished', () => this.inner.findPublished(...args));
  }

  fetchMetrics(...args: Parameters<SocialConnector['fetchMetrics']>) {
    return this.call('fetchMetrics', () => this.inner.fetchMetrics(...args));
  }

  check() {
    return this.call('check', () => this.inner.check());
  }

  shutdown(): void {
    this.breaker.shutdown();
  }

  private async call<T>(operation: PlatformCall['operation'], fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const report = (errorClass: string | null) => this.settings.onCall?.({ platform: this.platform, operation, durationMs: performance.now() - started, errorClass });
    try {
      const result = (await this.breaker.fire(fn)) as T;
      report(null);
      return result;
    } catch (error) {
      if (error instanceof PlatformError) {
        report(error.errorClass);
        throw error;
      }
      if ((error as { code?: string } | undefined)?.code === 'EOPENBREAKER') {
        report('circuit_open');
        throw new PlatformError(this.platform, 'transient', `${this.platform}: circuit open after repeated failures; not called`);
      }
      report('unexpected');
      throw error;
    }
  }
}
