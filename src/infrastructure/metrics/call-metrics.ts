import type { CircuitState, ExternalServiceKind } from '../../domain/service-health.js';
import type { ProviderCall } from '../../platforms/notifications/provider-router.js';
import type { PlatformCall } from '../../platforms/social/breaker-connector.js';
import type { Metrics } from './metrics.js';

/** A send through the provider router (hooked as RouterOptions.onCall). */
export function observeProviderCall(metrics: Metrics, call: ProviderCall): void {
  observe(metrics, { kind: 'provider', service: call.provider, operation: 'send' }, call.durationMs, call.errorClass);
}

/** A call through a platform's breaker (hooked as BreakerSettings.onCall). */
export function observePlatformCall(metrics: Metrics, call: PlatformCall): void {
  observe(metrics, { kind: 'platform', service: call.platform, operation: call.operation }, call.durationMs, call.errorClass);
}

export function countBreakerTransition(metrics: Metrics, kind: ExternalServiceKind, service: string, state: CircuitState): void {
  metrics.breakerTransitions.inc({ kind, service, state });
}

function observe(metrics: Metrics, labels: { kind: ExternalServiceKind; service: string; operation: string }, durationMs: number, errorClass: string | null): void {
  // A call the open breaker refused never left the process: its duration would only drag the latency down.
  if (errorClass !== 'circuit_open') metrics.externalCallDuration.observe(labels, durationMs / 1000);
  if (errorClass) metrics.externalCallErrors.inc({ ...labels, error_class: errorClass });
}
