import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from './error-schemas.js';

/** A part of the service whose health the status route reports. */
export interface StatusComponent {
  name: string;
  /** Readiness depends on it (the event store, the read-model database). */
  critical: boolean;
  check(): Promise<Record<string, unknown> & { status: 'up' | 'down' | 'degraded' }>;
}

const componentSchema = z.looseObject({ status: z.enum(['up', 'down', 'degraded']) });

const statusSchema = z.object({
  status: z.enum(['ok', 'degraded', 'down']),
  version: z.string(),
  started_at: z.string(),
  uptime_seconds: z.number(),
  components: z.record(z.string(), componentSchema),
});

const checkTimeoutMs = 2_000;

export function registerStatusRoutes(app: FastifyInstance, components: () => StatusComponent[], version: string): void {
  const server = app.withTypeProvider<ZodTypeProvider>();
  const startedAt = new Date();

  const checkAll = async () => {
    const list = components();
    const results = await Promise.all(list.map((component) => withTimeout(component)));
    const entries = Object.fromEntries(list.map((component, i) => [component.name, results[i]!]));
    const criticalDown = list.some((component, i) => component.critical && results[i]!.status === 'down');
    const anyNotUp = results.some((result) => result.status !== 'up');
    return { entries, status: criticalDown ? 'down' : anyNotUp ? 'degraded' : 'ok' } as const;
  };

  server.get(
    '/api/communication/status',
    {
      config: { scope: 'status:read' },
      schema: {
        tags: ['operations'],
        summary: 'State of the module and of each component',
        response: { ...errorResponses, 200: statusSchema, 503: statusSchema },
      },
    },
    async (_request, reply) => {
      const { entries, status } = await checkAll();
      return reply.status(status === 'down' ? 503 : 200).send({
        status,
        version,
        started_at: startedAt.toISOString(),
        uptime_seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
        components: entries,
      });
    },
  );

  server.get(
    '/health/live',
    { config: { public: true }, schema: { tags: ['operations'], summary: 'Liveness probe: the process answers' } },
    async () => ({ status: 'ok' }),
  );

  server.get(
    '/health/ready',
    { config: { public: true }, schema: { tags: ['operations'], summary: 'Readiness probe: the event store and read-model database answer' } },
    async (_request, reply) => {
      const list = components().filter((component) => component.critical);
      const results = await Promise.all(list.map((component) => withTimeout(component)));
      const ready = results.every((result) => result.status !== 'down');
      return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready' });
    },
  );
}

async function withTimeout(component: StatusComponent): Promise<Record<string, unknown> & { status: 'up' | 'down' | 'degraded' }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ status: 'down'; error: string }>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'down', error: `no answer within ${checkTimeoutMs} ms` }), checkTimeoutMs);
  });
  try {
    return await Promise.race([
      component.check().catch((error: unknown) => ({ status: 'down' as const, error: (error as Error).message })),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
