import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.js';

export interface MetricsRouteOptions {
  /** COMM_METRICS_PUBLIC: no key needed (a scrape network that cannot hold one). Default: the status:read scope. */
  public: boolean;
  /** Brings the gauges that show the present state (lag, queues, breakers) up to date before they are read. */
  refresh?: () => Promise<void>;
}

/** GET /metrics in Prometheus text format, on every role's server (a worker-only process is scraped too). */
export function registerMetricsRoute(server: FastifyInstance, metrics: Metrics, options: MetricsRouteOptions): void {
  server.get(
    '/metrics',
    {
      config: options.public ? { public: true } : { scope: 'status:read' },
      schema: { tags: ['operations'], summary: 'Prometheus metrics (text exposition format)' },
    },
    async (_request, reply) => {
      await options.refresh?.();
      return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
    },
  );
}
