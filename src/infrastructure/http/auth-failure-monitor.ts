import { randomUUID } from 'node:crypto';
import { SecurityAlertRaised, securityStreamId, type SecurityAlert } from '../../domain/security-alert.js';
import type { EventStore } from '../event-store/event-store.js';
import type { Logger } from '../logging/logger.js';
import type { AuthenticationFailure, AuthenticationFailureReason } from './authentication.js';
import { clientAddress } from './client-address.js';
import { SlidingWindowLog } from './sliding-window.js';

export interface AuthFailureMonitorOptions {
  logger: Logger;
  /** Where SecurityAlertRaised goes; without one, alerts are only logged. */
  store?: EventStore;
  windowMs?: number;
  /** Failures in the window, from one address or with one key prefix, that raise a security alert. */
  alertThreshold?: number;
  /** Failures in the window from one address answered 401; past them, its refused keys get 429. */
  blockThreshold?: number;
  now?: () => Date;
}

type Subject = SecurityAlert['subject_type'];

/**
 * Counts refused keys per client address and per key prefix over a sliding window: each failure is logged until the
 * address goes past blockThreshold (from there its refused keys get 429 until its failures age out), and crossing
 * alertThreshold appends one SecurityAlertRaised per crossing (the subject must fall back below the threshold before
 * it can raise another).
 */
export class AuthFailureMonitor {
  readonly windowMs: number;
  readonly alertThreshold: number;
  readonly blockThreshold: number;
  private readonly logs: Record<Subject, SlidingWindowLog<AuthenticationFailureReason>>;
  private readonly alerted: Record<Subject, Set<string>> = { client_address: new Set(), key_prefix: new Set() };
  private readonly now: () => Date;

  constructor(private readonly options: AuthFailureMonitorOptions) {
    this.windowMs = options.windowMs ?? 5 * 60_000;
    this.alertThreshold = options.alertThreshold ?? 20;
    this.blockThreshold = options.blockThreshold ?? 50;
    this.now = options.now ?? (() => new Date());
    // One entry past the larger threshold is enough to tell "over it" from "at it".
    const limits = { maxEntriesPerSubject: Math.max(this.alertThreshold, this.blockThreshold) + 1 };
    this.logs = { client_address: new SlidingWindowLog(this.windowMs, limits), key_prefix: new SlidingWindowLog(this.windowMs, limits) };
  }

  async record(failure: AuthenticationFailure): Promise<void> {
    const now = this.now();
    const address = clientAddress(failure.address);
    const fromAddress = this.logs.client_address.add(address, failure.reason, now.getTime());
    const forKey = failure.keyPrefix ? this.logs.key_prefix.add(failure.keyPrefix, failure.reason, now.getTime()) : [];
    this.log(failure, address, fromAddress.length, forKey.length);
    await this.watch('client_address', address, fromAddress, now, failure.requestId);
    if (failure.keyPrefix) await this.watch('key_prefix', failure.keyPrefix, forKey, now, failure.requestId);
  }

  /** Seconds until the address is back within blockThreshold failures, or null while it is within. */
  retryAfterSeconds(ip: string): number | null {
    const now = this.now().getTime();
    const failures = this.logs.client_address.get(clientAddress(ip), now);
    if (failures.length <= this.blockThreshold) return null;
    // Within the limit again once this failure and the older ones have aged out.
    const freeingFailure = failures[failures.length - this.blockThreshold - 1]!;
    return Math.max(1, Math.ceil((freeingFailure.at + this.windowMs - now) / 1000));
  }

  private log(failure: AuthenticationFailure, address: string, fromAddress: number, forKeyPrefix: number): void {
    const { logger } = this.options;
    // Past the limit, an address that keeps failing is logged once, not once per attempt.
    if (fromAddress > this.blockThreshold + 1) return;
    if (fromAddress > this.blockThreshold) {
      logger.warn({ address, failures: fromAddress, window_seconds: this.windowMs / 1000 }, 'refused keys from this address get 429 until their failures age out');
      return;
    }
    logger.warn(
      {
        address,
        key_prefix: failure.keyPrefix,
        reason: failure.reason,
        method: failure.method,
        route: failure.route,
        failures_from_address: fromAddress,
        ...(failure.keyPrefix ? { failures_for_key_prefix: forKeyPrefix } : {}),
      },
      'authentication failed',
    );
  }

  private async watch(type: Subject, subject: string, entries: readonly { at: number; value: AuthenticationFailureReason }[], now: Date, requestId: string): Promise<void> {
    const alerted = this.alerted[type];
    if (entries.length < this.alertThreshold) {
      alerted.delete(subject);
      return;
    }
    if (alerted.has(subject)) return;
    alerted.add(subject);
    // Bounded like the logs: forgetting an old crossing at worst raises one alert more.
    if (alerted.size > 10_000) alerted.delete(alerted.values().next().value!);
    const reasons: Record<string, number> = {};
    for (const entry of entries) reasons[entry.value] = (reasons[entry.value] ?? 0) + 1;
    const alert: SecurityAlert = SecurityAlertRaised.schema.parse({
      alert_id: randomUUID(),
      kind: 'repeated_authentication_failures',
      subject_type: type,
      subject,
      failures: entries.length,
      threshold: this.alertThreshold,
      window_seconds: Math.round(this.windowMs / 1000),
      reasons,
      first_failure_at: new Date(entries[0]!.at).toISOString(),
      raised_at: now.toISOString(),
    });
    this.options.logger.error({ alert }, 'security alert: repeated authentication failures');
    if (!this.options.store) return;
    try {
      await this.options.store.append(
        securityStreamId(now),
        [
          {
            id: alert.alert_id,
            type: SecurityAlertRaised.type,
            data: alert,
            metadata: { correlation_id: requestId, causation_id: requestId, actor: 'system:auth-failure-monitor', timestamp: alert.raised_at, schema_version: SecurityAlertRaised.version },
          },
        ],
        { expectedRevision: 'any' },
      );
    } catch (error) {
      // The refusal stands either way; a store that is down must not turn a 401 into a 500.
      this.options.logger.error({ err: error, alert_id: alert.alert_id }, 'security alert could not be stored');
    }
  }
}
