import type { ServiceSnapshot } from '../health/service-health-board.js';
import type { BusStats } from '../bus/message-bus.js';
import type { FollowerLag } from '../../projections/follower-lag.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from './metrics.js';

/** Where the present-state gauges read from; each source is optional (a process shows what it can reach). */
export interface ScrapeSources {
  followerLag?: () => Promise<FollowerLag[]>;
  busStats?: () => Promise<BusStats | null>;
  services?: () => ServiceSnapshot[];
}

const breakerLevel = { closed: 0, half_open: 1, open: 2 } as const;

/**
 * Sets the gauges that describe the state now, just before a scrape reads them. Each family is reset first, so a
 * queue or follower that went away stops being reported; a source that fails (the store is down) leaves its family
 * empty rather than failing the whole scrape.
 */
export async function refreshScrapedGauges(metrics: Metrics, sources: ScrapeSources, logger: Logger): Promise<void> {
  const [lag, stats] = await Promise.allSettled([sources.followerLag?.() ?? [], sources.busStats?.() ?? null]);

  metrics.followerLagEvents.reset();
  metrics.followerLagSeconds.reset();
  if (lag.status === 'fulfilled') {
    for (const follower of lag.value) {
      const labels = { kind: follower.kind, name: follower.name };
      metrics.followerLagEvents.set(labels, follower.pendingEvents);
      metrics.followerLagSeconds.set(labels, follower.lagMs / 1000);
    }
  } else {
    logger.warn({ err: lag.reason }, 'metrics: follower lag unavailable');
  }

  for (const family of [metrics.queuePending, metrics.queueAckPending, metrics.queueRedelivered, metrics.queueDeadLetters, metrics.deadLetters]) family.reset();
  if (stats.status === 'fulfilled' && stats.value) {
    for (const queue of stats.value.queues) {
      metrics.queuePending.set({ queue: queue.name }, queue.pending);
      metrics.queueAckPending.set({ queue: queue.name }, queue.ackPending);
      metrics.queueRedelivered.set({ queue: queue.name }, queue.redelivered);
      metrics.queueDeadLetters.set({ queue: queue.name }, queue.deadLetters);
    }
    metrics.deadLetters.set(stats.value.deadLetters);
  } else if (stats.status === 'rejected') {
    logger.warn({ err: stats.reason }, 'metrics: queue stats unavailable');
  }

  for (const family of [metrics.breakerState, metrics.serviceUp, metrics.serviceCheckedAt]) family.reset();
  for (const service of sources.services?.() ?? []) {
    const labels = { kind: service.kind, service: service.name };
    metrics.breakerState.set(labels, breakerLevel[service.breaker]);
    if (!service.heartbeat) continue;
    metrics.serviceUp.set(labels, service.heartbeat.ok ? 1 : 0);
    metrics.serviceCheckedAt.set(labels, service.heartbeat.checkedAt.getTime() / 1000);
  }
}
