import { describe, it } from 'vitest';
import { serviceHealthDecider, serviceHealthEvents, type ServiceHealthEvent } from '../../src/domain/service-health.js';
import { expectConformToCatalogue, given, run } from './given-when-then.js';

const T1 = '2026-05-04T09:00:00.000Z';
const T2 = '2026-05-04T09:05:00.000Z';
const failed = { type: 'RecordCheckFailed', service: 'sendgrid', kind: 'provider', error_class: 'auth', message: 'HTTP 401: bad key', now: T1 } as const;
const succeeded = { type: 'RecordCheckSucceeded', service: 'sendgrid', kind: 'provider', now: T2 } as const;
const unhealthy: ServiceHealthEvent = {
  type: 'ExternalServiceUnhealthy',
  data: { service: 'sendgrid', kind: 'provider', error_class: 'auth', message: 'HTTP 401: bad key', detected_at: T1 },
};

describe('service health', () => {
  it('raises the alert when a service that answered starts failing', () => {
    given(serviceHealthDecider).when(failed).then([unhealthy]);
  });

  it('raises it once per outage, however many checks fail', () => {
    given(serviceHealthDecider, [unhealthy]).when({ ...failed, now: T2 }).then([]);
  });

  it('records the recovery, with when the outage began, once', () => {
    given(serviceHealthDecider, [unhealthy])
      .when(succeeded)
      .then([{ type: 'ExternalServiceRecovered', data: { service: 'sendgrid', kind: 'provider', unhealthy_since: T1, recovered_at: T2 } }]);
    given(serviceHealthDecider, [unhealthy, { type: 'ExternalServiceRecovered', data: { service: 'sendgrid', kind: 'provider', unhealthy_since: T1, recovered_at: T2 } }])
      .when(succeeded)
      .then([]);
  });

  it('records nothing for a service that has always answered', () => {
    given(serviceHealthDecider).when(succeeded).then([]);
  });

  it('records every breaker transition, which does not change the alert state', () => {
    const opened: ServiceHealthEvent = {
      type: 'CircuitBreakerStateChanged',
      data: { service: 'facebook', kind: 'platform', account: '1234567890', state: 'open', changed_at: T1 },
    };
    given(serviceHealthDecider, [unhealthy])
      .when({ type: 'RecordBreakerChange', service: 'facebook', kind: 'platform', account: '1234567890', state: 'open', now: T1 })
      .then([opened]);
    given(serviceHealthDecider, [unhealthy, opened]).when({ ...failed, now: T2 }).then([]);
  });

  it('emits only events that conform to the catalogue', () => {
    const events = run(serviceHealthDecider, [
      failed,
      { ...failed, message: 'x'.repeat(3_000), error_class: null },
      { type: 'RecordBreakerChange', service: 'twilio', kind: 'provider', account: null, state: 'half_open', now: T1 },
      succeeded,
    ]);
    expectConformToCatalogue(serviceHealthEvents, events);
  });
});
