import { describe, expect, it } from 'vitest';
import { countBreakerTransition, observePlatformCall, observeProviderCall } from '../../../src/infrastructure/metrics/call-metrics.js';
import { Metrics } from '../../../src/infrastructure/metrics/metrics.js';
import { ProviderError, type NotificationProvider } from '../../../src/platforms/notifications/provider.js';
import { ProviderRouter } from '../../../src/platforms/notifications/provider-router.js';
import { BreakerConnector } from '../../../src/platforms/social/breaker-connector.js';
import { PlatformError, type SocialConnector } from '../../../src/platforms/social/connector.js';

const message = { notificationId: 'n-1', channel: 'sms' as const, recipient: '+33612345678', sms: 'Votre table est prête' };

describe('external call metrics', () => {
  it('times each provider send and counts its failures by error class, without the recipient', async () => {
    const metrics = new Metrics();
    let fail = false;
    const twilio: NotificationProvider = {
      name: 'twilio',
      channel: 'sms',
      send: async () => {
        if (fail) throw new ProviderError('twilio', 'rate_limited', 'HTTP 429');
        return { provider: 'twilio', providerMessageId: 'SM1' };
      },
    };
    const router = new ProviderRouter({ sms: { primary: twilio } }, { onCall: (call) => observeProviderCall(metrics, call) });
    await router.send(message);
    fail = true;
    await expect(router.send(message)).rejects.toThrow('HTTP 429');
    router.shutdown();

    const text = await metrics.registry.metrics();
    expect(text).toContain('comm_external_call_duration_seconds_count{kind="provider",service="twilio",operation="send"} 2');
    expect(text).toContain('comm_external_call_errors_total{kind="provider",service="twilio",operation="send",error_class="rate_limited"} 1');
    expect(text).not.toContain('+33612345678');
  });

  it('times each platform call by operation, and counts the calls an open breaker refused', async () => {
    const metrics = new Metrics();
    const inner: SocialConnector = {
      platform: 'linkedin',
      account: '2414183',
      publish: async () => {
        throw new PlatformError('linkedin', 'transient', 'HTTP 503');
      },
      findPublished: async () => null,
      fetchMetrics: async () => ({ likes: 1, shares: null, comments: null, reach: null, clicks: null, impressions: null }),
      check: async () => undefined,
    };
    const states: string[] = [];
    const connector = new BreakerConnector(inner, {
      volumeThreshold: 1,
      errorThresholdPercentage: 10,
      onCall: (call) => observePlatformCall(metrics, call),
      onStateChange: (platform, _account, state) => {
        states.push(state);
        countBreakerTransition(metrics, 'platform', platform, state);
      },
    });
    await connector.fetchMetrics('urn:li:share:1');
    const post = { publicationId: 'p', attemptId: 'a', title: '', text: 'Bonjour', mediaUrls: [] };
    await expect(connector.publish(post)).rejects.toThrow('HTTP 503');
    await expect(connector.publish(post)).rejects.toThrow('circuit open');
    connector.shutdown();

    const text = await metrics.registry.metrics();
    expect(text).toContain('comm_external_call_duration_seconds_count{kind="platform",service="linkedin",operation="fetchMetrics"} 1');
    expect(text).toContain('comm_external_call_duration_seconds_count{kind="platform",service="linkedin",operation="publish"} 1');
    expect(text).toContain('comm_external_call_errors_total{kind="platform",service="linkedin",operation="publish",error_class="transient"} 1');
    expect(text).toContain('comm_external_call_errors_total{kind="platform",service="linkedin",operation="publish",error_class="circuit_open"} 1');
    expect(states).toEqual(['open']);
    expect(text).toContain('comm_circuit_breaker_transitions_total{kind="platform",service="linkedin",state="open"} 1');
  });
});
