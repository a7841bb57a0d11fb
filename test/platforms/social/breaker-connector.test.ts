import { afterEach, describe, expect, it } from 'vitest';
import { BreakerConnector, type BreakerSettings, type PlatformCall } from '../../../src/platforms/social/breaker-connector.js';
import { retryingCalls } from '../../../src/platforms/social/call-retry.js';
import { PlatformError, type PlatformErrorClass, type SocialConnector, type SocialPost } from '../../../src/platforms/social/connector.js';
import { singleCalls, type PlatformCalls } from '../../../src/platforms/social/platform-calls.js';

const post: SocialPost = { publicationId: 'p', attemptId: 'a', title: '', text: 'Le menu du jour', mediaUrls: ['https://cdn.example.fr/menu.jpg'] };

type Outcome = PlatformErrorClass | 'ok';

/**
 * A platform that answers each HTTP call it receives with the next outcome of `outcomes` (cycled, or drawn), and a
 * connector on it whose publish is five calls like Instagram's: four that may be sent again, then the one that publishes.
 */
function platform(outcomes: Outcome[] | ((call: number) => Outcome)) {
  let received = 0;
  const answer = async () => {
    const call = received++;
    const outcome = typeof outcomes === 'function' ? outcomes(call) : outcomes[call % outcomes.length]!;
    if (outcome !== 'ok') throw new PlatformError('instagram', outcome, `instagram: ${outcome}`, { status: outcome === 'permanent' ? 400 : 503 });
    return outcome;
  };
  const connector = (calls: PlatformCalls): SocialConnector => ({
    platform: 'instagram',
    account: '1002',
    async publish() {
      for (let step = 0; step < 4; step++) await calls.run(answer, { redoable: true });
      await calls.run(answer, { redoable: false });
      return { postId: `media-${received}`, url: null };
    },
    findPublished: async () => calls.run(answer, { redoable: true }).then(() => null),
    fetchMetrics: async () => ({ likes: null, shares: null, comments: null, reach: null, clicks: null, impressions: null }),
    check: async () => void (await calls.run(answer, { redoable: true })),
  });
  return { received: () => received, connector };
}

const noPause = { sleep: async () => undefined };

/** One call in three fails, drawn from a fixed seed (a cycle would line up with the five calls of a publish). */
function oneInThree(): (call: number) => Outcome {
  let state = 20_261_130;
  return () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state / 2 ** 32 < 1 / 3 ? 'transient' : 'ok';
  };
}

describe('BreakerConnector', () => {
  const breakers: BreakerConnector[] = [];
  const breaker = (inner: ConstructorParameters<typeof BreakerConnector>[0], settings: BreakerSettings = {}) => {
    const connector = new BreakerConnector(inner, settings);
    breakers.push(connector);
    return connector;
  };
  afterEach(() => {
    for (const connector of breakers.splice(0)) connector.shutdown();
  });

  const publishMany = async (connector: SocialConnector, n: number) => {
    const outcomes: string[] = [];
    for (let i = 0; i < n; i++) {
      outcomes.push(
        await connector.publish(post).then(
          () => 'published',
          (error: PlatformError) => (error.details.platformCode === 'circuit_open' ? 'circuit_open' : error.errorClass),
        ),
      );
    }
    return outcomes;
  };

  it('counts each HTTP call: a platform failing one call in three stays usable', async () => {
    const flaky = platform(oneInThree());
    const connector = breaker((guarded) => flaky.connector(retryingCalls(guarded, noPause)));
    const outcomes = await publishMany(connector, 30);

    expect(connector.state).toBe('closed');
    expect(outcomes).not.toContain('circuit_open');
    // Only the call that publishes is never sent again: it alone can fail an operation, one time in three.
    expect(outcomes.filter((o) => o === 'published').length).toBeGreaterThanOrEqual(15);
  });

  it('counted by operation, the same platform looked down and the breaker opened (why calls are counted)', async () => {
    const flaky = platform(oneInThree());
    const connector = breaker(flaky.connector(singleCalls));
    const outcomes = await publishMany(connector, 30);
    expect(connector.state).toBe('open');
    expect(outcomes).toContain('circuit_open');
  });

  it('opens when most calls fail, then refuses calls without reaching the platform or retrying', async () => {
    const down = platform(['transient']);
    const changes: string[] = [];
    const connector = breaker((guarded) => down.connector(retryingCalls(guarded, noPause)), { onStateChange: (_p, _a, state) => changes.push(state) });
    // Each publish is one call tried 4 times: the fifth publish reaches the 20 calls of the volume threshold.
    expect(await publishMany(connector, 5)).toEqual(['transient', 'transient', 'transient', 'transient', 'transient']);
    expect(down.received()).toBe(20);
    expect(connector.isOpen).toBe(true);
    expect(changes).toEqual(['open']);

    expect(await publishMany(connector, 3)).toEqual(['circuit_open', 'circuit_open', 'circuit_open']);
    expect(down.received()).toBe(20);
  });

  it('does not open on a blip below the volume threshold', async () => {
    const blip = platform(['transient', 'transient', 'transient', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    const connector = breaker((guarded) => blip.connector(retryingCalls(guarded, noPause)));
    // Three failed calls in a row, 100 % of the calls so far: too few to say the platform is down.
    expect(await publishMany(connector, 4)).toEqual(['published', 'published', 'published', 'published']);
    expect(connector.state).toBe('closed');
  });

  it('does not count refused content against the platform', async () => {
    const strict = platform(['permanent']);
    const connector = breaker((guarded) => strict.connector(retryingCalls(guarded, noPause)), { volumeThreshold: 5 });
    expect(new Set(await publishMany(connector, 10))).toEqual(new Set(['permanent']));
    expect(connector.state).toBe('closed');
  });

  it('reports each operation once, naming an open breaker as circuit_open', async () => {
    const down = platform(['transient']);
    const calls: PlatformCall[] = [];
    const connector = breaker((guarded) => down.connector(guarded), { volumeThreshold: 2, onCall: (call) => calls.push(call) });
    await publishMany(connector, 3);
    await connector.check().catch(() => undefined);
    expect(calls.map((c) => `${c.operation}:${c.errorClass}`)).toEqual(['publish:transient', 'publish:transient', 'publish:circuit_open', 'check:circuit_open']);
  });
});
