import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { generateApiKey } from '../src/infrastructure/auth/api-keys.js';

export interface HttpRun {
  requestsPerSecond: number;
  p50: number;
  p90: number;
  p99: number;
  errors: number;
}

/** Runs the service as its own process (as in production) and loads it from this one. */
export async function benchHttp(databaseUrl: string): Promise<{ max: HttpRun; fixed: HttpRun }> {
  const port = 3900 + Math.floor(Math.random() * 90);
  const { key } = generateApiKey();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      NATS_URL: '',
      EVENTSTORE_URL: '',
      PORT: String(port),
      HOST: '127.0.0.1',
      COMM_ADMIN_API_KEY: key,
      COMM_DATA_DIR: await mkdtemp(join(tmpdir(), 'comm-bench-')),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitReady(`${url}/health/ready`);
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
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
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

async function waitReady(url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`service not ready at ${url}`);
}
