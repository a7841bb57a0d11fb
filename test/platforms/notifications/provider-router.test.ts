import { describe, expect, it } from 'vitest';
import { ProviderError, type NotificationProvider, type OutgoingMessage, type ProviderErrorClass } from '../../../src/platforms/notifications/provider.js';
import { isCircuitOpen, ProviderRouter } from '../../../src/platforms/notifications/provider-router.js';
import { TokenBucket } from '../../../src/platforms/notifications/token-bucket.js';

/** A provider whose answers the test scripts: the router's own logic is what is under test here. */
function scripted(name: string, answers: (ProviderErrorClass | 'ok')[]): NotificationProvider & { calls: number } {
  let calls = 0;
  return {
    name,
    channel: 'email',
    get calls() {
      return calls;
    },
    async send(message: OutgoingMessage) {
      const answer = answers[Math.min(calls, answers.length - 1)]!;
      calls++;
      if (answer === 'ok') return { provider: name, providerMessageId: `${name}-${message.notificationId}` };
      throw new ProviderError(name, answer, `${name} said ${answer}`);
    },
  };
}

const message: OutgoingMessage = { notificationId: 'n1', channel: 'email', recipient: 'a@example.fr', email: { subject: 's', html: '<p>h</p>', text: 'h' } };

describe('ProviderRouter', () => {
  it('sends through the primary when it works', async () => {
    const primary = scripted('sendgrid', ['ok']);
    const secondary = scripted('mailjet', ['ok']);
    const router = new ProviderRouter({ email: { primary, secondary } });
    expect(await router.send(message)).toMatchObject({ provider: 'sendgrid', failedOver: false });
    expect(secondary.calls).toBe(0);
    router.shutdown();
  });

  it('fails over to the secondary on a retryable error, not on a permanent one', async () => {
    const router = new ProviderRouter({ email: { primary: scripted('sendgrid', ['transient']), secondary: scripted('mailjet', ['ok']) } });
    expect(await router.send(message)).toMatchObject({ provider: 'mailjet', failedOver: true });
    const refusing = new ProviderRouter({ email: { primary: scripted('sendgrid', ['permanent']), secondary: scripted('mailjet', ['ok']) } });
    await expect(refusing.send(message)).rejects.toMatchObject({ errorClass: 'permanent', provider: 'sendgrid' });
    router.shutdown();
    refusing.shutdown();
  });

  it('opens the primary breaker after repeated failures and then goes straight to the secondary', async () => {
    const primary = scripted('sendgrid', ['transient']);
    const secondary = scripted('mailjet', ['ok']);
    const changes: string[] = [];
    const router = new ProviderRouter(
      { email: { primary, secondary } },
      { breaker: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 }, onBreakerChange: (p, s) => changes.push(`${p}:${s}`) },
    );
    for (let i = 0; i < 5; i++) await router.send(message);
    const callsWhenOpen = primary.calls;
    await router.send(message);
    expect(primary.calls).toBe(callsWhenOpen);
    expect(changes).toContain('sendgrid:open');
    expect(router.breakerStates().sendgrid).toBe('open');
    router.shutdown();
  });

  it('refuses at once while the circuit is open, as circuit_open, without using up the provider rate', async () => {
    const primary = scripted('twilio', ['transient', 'transient', 'ok']);
    const calls: (string | null)[] = [];
    // One send a second: a refusal that took a token would make the next real send wait.
    const router = new ProviderRouter(
      { email: { primary } },
      { ratePerSecond: { twilio: 1 }, breaker: { volumeThreshold: 2, resetTimeoutMs: 60_000 }, onCall: (call) => calls.push(call.errorClass) },
    );
    for (let i = 0; i < 2; i++) await expect(router.send(message)).rejects.toMatchObject({ errorClass: 'transient' });
    const started = performance.now();
    for (let i = 0; i < 20; i++) {
      const error = await router.send(message).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isCircuitOpen(error)).toBe(true);
    }
    expect(performance.now() - started).toBeLessThan(500);
    expect(primary.calls).toBe(2);
    expect(calls.filter((c) => c === 'circuit_open')).toHaveLength(20);
    expect(isCircuitOpen(new ProviderError('twilio', 'transient', 'a 503'))).toBe(false);
    router.shutdown();
  });

  it('does not count refused messages against the provider health', async () => {
    const primary = scripted('sendgrid', ['permanent']);
    const router = new ProviderRouter({ email: { primary } }, { breaker: { volumeThreshold: 2 } });
    for (let i = 0; i < 6; i++) await expect(router.send(message)).rejects.toBeInstanceOf(ProviderError);
    expect(router.breakerStates().sendgrid).toBe('closed');
    router.shutdown();
  });

  it('refuses a channel with no provider configured', async () => {
    const router = new ProviderRouter({});
    await expect(router.send({ ...message, channel: 'sms' })).rejects.toMatchObject({ errorClass: 'permanent' });
  });
});

describe('TokenBucket', () => {
  it('lets a burst through, then paces to the rate', async () => {
    const bucket = new TokenBucket(20, 5);
    const started = performance.now();
    for (let i = 0; i < 15; i++) await bucket.take();
    const elapsed = performance.now() - started;
    // 5 at once, then 10 more at 20/s: about 500 ms.
    expect(elapsed).toBeGreaterThan(400);
    expect(elapsed).toBeLessThan(1_500);
  });
});
