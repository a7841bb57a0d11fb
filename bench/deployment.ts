import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateApiKey } from '../src/infrastructure/auth/api-keys.js';
import { startService, type ServiceProcess } from './service-process.js';

/** A config directory: SendGrid (pointed at a double) for e-mail, and the given file templates. */
export async function sendGridConfigDir(sendGridUrl: string, templates: Record<string, { subject: string; body_html: string }>): Promise<string> {
  const configDir = await mkdtemp(join(tmpdir(), 'comm-bench-config-'));
  await mkdir(join(configDir, 'templates'));
  await writeFile(
    join(configDir, 'notifications.json'),
    JSON.stringify({ email: { provider: 'sendgrid', api_key: 'SG.bench-key', from_email: 'restaurant@levieuxmoulin.fr', base_url: sendGridUrl, rate_per_second: 10_000 } }),
  );
  await writeFile(join(configDir, 'templates', 'bench.json'), JSON.stringify(templates));
  return configDir;
}

export interface Deployment {
  /** The process serving the API (the only one without NATS). */
  api: ServiceProcess;
  /** Every process, the worker last. */
  processes: ServiceProcess[];
  stop(): Promise<void>;
}

/**
 * The service as deployed (docker-compose.yml): API, projector and worker as processes of their own, sharing the vault
 * key, the unsubscribe-link secret and the admin key; one process on the embedded in-process bus, which only reaches
 * within a process.
 */
export async function startDeployment(env: { DATABASE_URL: string; NATS_URL?: string; COMM_CONFIG_DIR: string } & Record<string, string>): Promise<Deployment> {
  const shared = {
    NATS_URL: '',
    COMM_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    COMM_UNSUBSCRIBE_SECRET: randomBytes(32).toString('hex'),
    COMM_ADMIN_API_KEY: generateApiKey().key,
    ...env,
  };
  const nats = shared.NATS_URL !== '';
  const processes: ServiceProcess[] = [];
  const stop = async () => void (await Promise.all(processes.map((process) => process.stop())));
  try {
    processes.push(await startService({ ...shared, ...(nats ? { COMM_ROLES: 'api' } : {}) }));
    if (nats) processes.push(...(await Promise.all(['projector', 'worker'].map((role) => startService({ ...shared, COMM_ROLES: role })))));
  } catch (error) {
    await stop();
    throw error;
  }
  return { api: processes[0]!, processes, stop };
}

export interface RssFigures {
  start: number;
  max: number;
  end: number;
  /** The resident memory when progress first reached 25, 50, 75 and 100 % (0 where it never did). */
  quarters: number[];
}

/**
 * Samples a process's resident memory every second. With a progress function (0 to 1, the share of the run done),
 * also keeps the memory at each quarter of the run: flat memory is the same figure at 25 % and at 100 %, whatever the
 * start-up figure (the heap grows once to its working size).
 */
export function sampleRss(pid: number | undefined, progress?: () => number): { stop(): RssFigures } {
  const samples: number[] = [];
  const quarters = [0, 0, 0, 0];
  const sample = () => {
    let status = '';
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      return;
    }
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    if (!match) return;
    const mb = Number(match[1]) / 1024;
    samples.push(mb);
    const done = progress?.() ?? 0;
    quarters.forEach((value, i) => {
      if (value === 0 && done >= (i + 1) / 4) quarters[i] = Math.round(mb);
    });
  };
  const timer = setInterval(sample, 1000);
  let figures: RssFigures | undefined;
  return {
    stop() {
      if (!figures) {
        clearInterval(timer);
        // A last sample: a run shorter than the interval would otherwise miss its end.
        sample();
        figures = { start: Math.round(samples[0] ?? 0), max: Math.round(Math.max(0, ...samples)), end: Math.round(samples.at(-1) ?? 0), quarters: [...quarters] };
      }
      return figures;
    },
  };
}

/** Waits until the status route shows no projection or reactor with events still to handle. */
export async function waitUntilCaughtUp(url: string, key: string, timeoutMs = 10 * 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = (value: unknown): number => {
    if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + pending(item), 0);
    if (value === null || typeof value !== 'object') return 0;
    return Object.entries(value).reduce((sum, [name, item]) => sum + (name === 'pending_events' && typeof item === 'number' ? item : pending(item)), 0);
  };
  while (Date.now() < deadline) {
    const response = await fetch(`${url}/api/communication/status`, { headers: { authorization: `Bearer ${key}` } });
    if (pending(await response.json()) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error('projections and reactors did not catch up in time');
}
