import pg from 'pg';
import { startMinimalSendGrid } from './doubles/minimal-sendgrid.js';
import { runStreams } from './nats-streams.js';
import { sampleRss, sendGridConfigDir, startDeployment, waitUntilCaughtUp, type RssFigures } from './deployment.js';

export interface NotificationBench {
  total: number;
  endToEndPerSecond: number;
  acceptedPerSecond: number;
  latency: { rate: number; count: number; p50: number; p99: number; max: number };
  rssMb: RssFigures;
  bus: string;
}

/**
 * The service as deployed: API, projector and worker processes (one process on the in-process bus), SendGrid pointed
 * at a minimal local double; the memory figures are the worker's.
 * 1. throughput: `total` e-mails in batches of 1,000, until the double has received every one and every result is
 *    recorded as NotificationSent;
 * 2. latency at 1,000/s: batches of 50 every 50 ms for 20 s, request to provider call per notification.
 */
export async function benchNotifications(databaseUrl: string, natsUrl: string | undefined, total = 100_000): Promise<NotificationBench> {
  const double = await startMinimalSendGrid();
  const configDir = await sendGridConfigDir(double.url, {
    reservation_confirmation: { subject: 'Bonjour {{first_name}}', body_html: '<p>Bonjour {{first_name}}, une table vous attend.</p>' },
  });
  const streams = runStreams('notifications');
  const deployment = await startDeployment({ DATABASE_URL: databaseUrl, NATS_URL: natsUrl ?? '', COMM_CONFIG_DIR: configDir, ...streams.env }).catch(async (error: unknown) => {
    // A process that did not come up: what this run made goes all the same.
    await double.stop();
    if (natsUrl) await streams.delete(natsUrl);
    throw error;
  });
  const { url, key } = deployment.api;
  // Progress is the burst's: e-mails at the double out of `total` (the latency run comes after 100 %).
  const memory = sampleRss(deployment.processes.at(-1)!.child.pid, () => double.received.size / total);
  const db = new pg.Client({ connectionString: databaseUrl });
  try {
    await db.connect();
    const post = async (count: number, offset: number) => {
      const response = await fetch(`${url}/api/communication/notify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({
          template_id: 'reservation_confirmation',
          channel: 'email',
          recipients: Array.from({ length: count }, (_, i) => ({ recipient: `client${offset + i}@example.fr`, data: { first_name: `Client ${offset + i}` } })),
        }),
      });
      if (response.status !== 202) throw new Error(`notify answered ${response.status}: ${await response.text()}`);
      const body = (await response.json()) as { notifications: { notification_id: string }[] };
      return body.notifications.map((n) => n.notification_id);
    };
    const sentEvents = async () =>
      Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM es_events WHERE type = 'NotificationSent'`)).rows[0]!.n);

    // 1. throughput (after a checkpoint: the database's earlier writes are not billed to this run)
    await db.query('CHECKPOINT').catch(() => undefined);
    const started = Date.now();
    let submitted = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (submitted < total) {
          const offset = submitted;
          submitted += 1_000;
          await post(Math.min(1_000, total - offset), offset);
        }
      }),
    );
    const acceptedAt = Date.now();
    const deadline = Date.now() + 15 * 60_000;
    // Wait on the double (in this process, free) before counting the NotificationSent events: the count reads the
    // whole log, and polling it all along took a sizeable share of the database's CPU away from the service.
    while (double.received.size < total) {
      if (Date.now() > deadline) throw new Error(`only ${double.received.size} of ${total} at the provider in time`);
      await new Promise((r) => setTimeout(r, 50));
    }
    while ((await sentEvents()) < total) {
      if (Date.now() > deadline) throw new Error(`only ${await sentEvents()} of ${total} sent in time`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const done = Date.now();
    // Steady state, not the tail of the burst: the latency run starts once every projection and reactor has caught up
    // with the 'total' notifications above (their catch-up would otherwise compete with the run for the CPU).
    await waitUntilCaughtUp(url, key);
    await db.query('CHECKPOINT').catch(() => undefined);

    // 2. latency at a steady 1,000/s
    const requestedAt = new Map<string, number>();
    const latencyStart = Date.now();
    let batchIndex = 0;
    const pending: Promise<void>[] = [];
    while (Date.now() - latencyStart < 20_000) {
      const at = Date.now();
      const offset = total + batchIndex * 50;
      pending.push(post(50, offset).then((ids) => ids.forEach((id) => requestedAt.set(id, at))));
      batchIndex++;
      const nextAt = latencyStart + batchIndex * 50;
      await new Promise((r) => setTimeout(r, Math.max(0, nextAt - Date.now())));
    }
    await Promise.all(pending);
    const latencyDeadline = Date.now() + 60_000;
    while ([...requestedAt.keys()].some((id) => !double.received.has(id)) && Date.now() < latencyDeadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const latencies = [...requestedAt].map(([id, at]) => (double.received.get(id) ?? Number.POSITIVE_INFINITY) - at).sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
    return {
      total,
      acceptedPerSecond: Math.round((total / (acceptedAt - started)) * 1000),
      endToEndPerSecond: Math.round((total / (done - started)) * 1000),
      latency: { rate: Math.round((requestedAt.size / 20_000) * 1000), count: latencies.length, p50: pct(0.5), p99: pct(0.99), max: latencies.at(-1)! },
      rssMb: memory.stop(),
      bus: natsUrl ? 'nats-jetstream' : 'in-process',
    };
  } finally {
    memory.stop();
    await db.end().catch(() => undefined);
    await deployment.stop();
    await double.stop();
    if (natsUrl) await streams.delete(natsUrl);
  }
}
