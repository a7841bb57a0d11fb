import autocannon from 'autocannon';
import { startService } from './service-process.js';

export interface HttpRun {
  requestsPerSecond: number;
  p50: number;
  p90: number;
  p99: number;
  errors: number;
}

/** Runs the service as its own process (as in production) and loads it from this one. */
export async function benchHttp(databaseUrl: string): Promise<{ max: HttpRun; fixed: HttpRun }> {
  const service = await startService({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' });
  try {
    const { url, key } = service;
    const body = JSON.stringify({
      name: 'Semaine de la pizza',
      description: 'Une pizza achetée, un dessert offert',
      start_date: '2027-03-01T10:00:00Z',
      end_date: '2027-03-08T22:00:00Z',
      target_audience: { segment: 'habitues' },
      budget: 250,
      channels: [{ type: 'email', content_template: 'promotional_email' }],
    });
    const options = {
      url: `${url}/api/communication/campaigns`,
      method: 'POST' as const,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body,
    };
    await run({ ...options, connections: 16, duration: 3 }); // warm-up: JIT, connection pool
    const max = await run({ ...options, connections: 32, duration: 15 });
    const fixed = await run({ ...options, connections: 32, duration: 15, overallRate: 1000 });
    return { max, fixed };
  } finally {
    await service.stop();
  }
}

async function run(options: autocannon.Options): Promise<HttpRun> {
  const result = await autocannon(options);
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}
