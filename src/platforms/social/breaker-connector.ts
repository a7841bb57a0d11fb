import CircuitBreaker from 'opossum';
import { PlatformError, type SocialConnector } from './connector.js';
import type { PlatformCalls } from './platform-calls.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerSettings {
  /** Share of failed calls in the rolling window above which the breaker opens. Default 50. */
  errorThresholdPercentage?: number;
  /** How long an open breaker refuses calls before it lets one through to try. Default 30 s. */
  resetTimeoutMs?: number;
  /** Calls in the rolling window before the error rate may open the breaker: one blip is not an outage. Default 20. */
  volumeThreshold?: number;
  /** The rolling window the error rate is measured over. Default 30 s. */
  rollingWindowMs?: number;
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
 * One opossum circuit breaker per platform account. Refused content (permanent, duplicate) says nothing about the
 * platform's health and does not count; 5xx, timeouts, throttling and refused tokens do. While open, calls fail at once
 * with a transient PlatformError (code circuit_open: nothing reached the platform).
 *
 * What the breaker counts is each HTTP call when the connector is built through it (a factory given the breaker's
 * PlatformCalls: connectorsFromConfig does so), else each operation. Per call is the measure of the platform's health:
 * an Instagram publish is about five calls, and counting one failed call as one failed operation made a platform that
 * fails a call in three look down four times in five, so the breaker stayed open.
 */
export class BreakerConnector implements SocialConnector {
  readonly platform: SocialConnector['platform'];
  readonly account: string;
  private readonly inner: SocialConnector;
  /** True when the connector's calls go through the breaker one by one; operations then are not counted again. */
  private readonly perCall: boolean;
  private readonly breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;

  constructor(
    inner: SocialConnector | ((calls: PlatformCalls) => SocialConnector),
    private readonly settings: BreakerSettings = {},
  ) {
    this.breaker = new CircuitBreaker((call: () => Promise<unknown>) => call(), {
      timeout: false,
      errorThresholdPercentage: settings.errorThresholdPercentage ?? 50,
      resetTimeout: settings.resetTimeoutMs ?? 30_000,
      volumeThreshold: settings.volumeThreshold ?? 20,
      rollingCountTimeout: settings.rollingWindowMs ?? 30_000,
      rollingCountBuckets: 10,
      errorFilter: (error: unknown) => error instanceof PlatformError && (error.errorClass === 'permanent' || error.errorClass === 'duplicate'),
    });
    this.perCall = typeof inner === 'function';
    this.inner = typeof inner === 'function' ? inner({ run: (call) => this.guarded(call) }) : inner;
    this.platform = this.inner.platform;
    this.account = this.inner.account;
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
      const result = this.perCall ? await fn() : await this.guarded(fn);
      report(null);
      return result;
    } catch (error) {
      if (error instanceof PlatformError) {
        report(error.details.platformCode === 'circuit_open' ? 'circuit_open' : error.errorClass);
        throw error;
      }
      report('unexpected');
      throw error;
    }
  }

  /** One call through the breaker: counted, or refused while the breaker is open. */
  private async guarded<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return (await this.breaker.fire(fn)) as T;
    } catch (error) {
      if ((error as { code?: string } | undefined)?.code === 'EOPENBREAKER') {
        throw new PlatformError(this.platform, 'transient', `${this.platform}: circuit open after repeated failures; not called`, { platformCode: 'circuit_open' });
      }
      throw error;
    }
  }
}
