import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateApiKey } from '../src/infrastructure/auth/api-keys.js';

export interface ServiceProcess {
  url: string;
  /** An admin API key of this service. */
  key: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The service as its own process, as in production, on a random port of 127.0.0.1, ready when this resolves.
 * BENCH_PROFILE=dir writes a CPU profile of it there (node --cpu-prof).
 */
export async function startService(env: Record<string, string>): Promise<ServiceProcess> {
  const port = await freePort();
  // Processes of one deployment pass the same key (the last one to start would otherwise replace the others').
  const key = env.COMM_ADMIN_API_KEY ?? generateApiKey().key;
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  // The flags of `npm start` and of the image's CMD.
  const child = spawn(process.execPath, [...profile, '--max-semi-space-size=64', '--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      NATS_URL: '',
      EVENTSTORE_URL: '',
      PORT: String(port),
      HOST: '127.0.0.1',
      COMM_ADMIN_API_KEY: key,
      COMM_DATA_DIR: await mkdtemp(join(tmpdir(), 'comm-bench-')),
      LOG_LEVEL: 'error',
      // The benchmark drives one key far past any client's rate: measure the service, not its limiter.
      COMM_RATE_LIMIT_PER_MINUTE: '0',
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  };
  try {
    await waitReady(`${url}/health/ready`);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, key, child, stop };
}

/** A port nothing listens on now (a random one could be another process's: the service would not start). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
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
