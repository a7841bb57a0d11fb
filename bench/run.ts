/**
 * npm run bench — a benchmark, not a test. Against PostgreSQL (DATABASE_URL, default the local server):
 *  1. event-store append throughput: 1-event and 100-event appends, 1 and 16 concurrent writers;
 *  2. HTTP create-campaign throughput and latency percentiles (autocannon), at full speed and at 1,000 commands/s;
 *  3. projection catch-up rate on a 200,000-event rebuild;
 *  4. notifications end to end (POST /notify → reactor → NATS → worker → SendGrid connector → a local double);
 *  5. social publications end to end (POST /publish → scheduler → NATS → workers → the five platform doubles);
 *  6. analytics: 1,000,000 notification events loaded into the store, the analytics projection's catch-up rate, then
 *     GET /api/communication/analytics p99 over varied filters and granularities;
 *  7. a campaign to 100,000 e-mail recipients (BENCH_CAMPAIGN_RECIPIENTS) in one CRM segment, each with an e-mail
 *     marketing consent (BENCH_CAMPAIGN_SEED: direct, or crm through the CRM's NATS subjects): from the launch call
 *     until every notification reached the SendGrid double, and until GET /analytics counts them all sent.
 * First, a calibration of the machine (pure CPU work), so that figures from different machines can be compared. Each
 * bench has a database of its own (comm_bench_<name>), dropped once its figures are taken (BENCH_KEEP_DATABASES=1
 * keeps them).
 * Prints a table and writes bench/results.json.
 */
import { writeFile } from 'node:fs/promises';
import { benchAnalytics } from './analytics.js';
import { benchAppends } from './appends.js';
import { benchCampaign } from './campaign.js';
import { benchHttp } from './http.js';
import { benchNotifications } from './notifications.js';
import { benchPublications } from './publications.js';
import { benchRebuild } from './rebuild.js';
import { dropBenchDatabase, freshDatabase } from './database.js';
import { calibrateMachine } from './machine.js';

const baseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const only = process.argv.slice(2);
const wants = (name: string) => only.length === 0 || only.includes(name);

interface Row {
  benchmark: string;
  value: number;
  unit: string;
  target?: string;
  note?: string;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const machine = await calibrateMachine();
  rows.push({
    benchmark: 'machine: one thread adds 3·10⁹ integers',
    value: machine.oneThreadMs,
    unit: 'ms',
    note: `two threads at once: ${machine.twoThreadsMs} ms each; ${machine.cpus} CPUs (compare figures across machines with these)`,
  });
  if (wants('appends')) {
    const url = await freshDatabase(baseUrl, 'comm_bench_appends');
    for (const r of await benchAppends(url)) {
      rows.push({ benchmark: `append ${r.eventsPerAppend}-event, ${r.writers} writer(s)`, value: r.appendsPerSecond, unit: 'appends/s', note: `${r.eventsPerSecond} events/s` });
    }
    await dropBenchDatabase(baseUrl, 'comm_bench_appends');
  }
  if (wants('http')) {
    const url = await freshDatabase(baseUrl, 'comm_bench_http');
    const r = await benchHttp(url);
    rows.push({ benchmark: 'HTTP create campaign, max throughput', value: r.max.requestsPerSecond, unit: 'commands/s', target: '>= 3000', note: `p50 ${r.max.p50} ms, p99 ${r.max.p99} ms, errors ${r.max.errors}` });
    rows.push({ benchmark: 'HTTP create campaign at 1,000/s: p99', value: r.fixed.p99, unit: 'ms', target: '<= 20', note: `p50 ${r.fixed.p50} ms, p90 ${r.fixed.p90} ms, ${r.fixed.requestsPerSecond} req/s, errors ${r.fixed.errors}` });
    await dropBenchDatabase(baseUrl, 'comm_bench_http');
  }
  if (wants('rebuild')) {
    const url = await freshDatabase(baseUrl, 'comm_bench_rebuild');
    const r = await benchRebuild(url, 200_000);
    rows.push({ benchmark: `projection rebuild, ${r.events} events`, value: r.eventsPerSecond, unit: 'events/s', target: '>= 20000', note: `${Math.round(r.durationMs)} ms; ${r.rows} read-model rows` });
    await dropBenchDatabase(baseUrl, 'comm_bench_rebuild');
  }
  if (wants('notifications')) {
    const url = await freshDatabase(baseUrl, 'comm_bench_notifications');
    const total = Number(process.env.BENCH_NOTIFICATIONS ?? 100_000);
    const r = await benchNotifications(url, process.env.BENCH_IN_PROCESS_BUS ? undefined : (process.env.NATS_URL ?? 'nats://127.0.0.1:4222'), total);
    rows.push({ benchmark: `notifications end to end (${r.total} e-mails, ${r.bus})`, value: r.endToEndPerSecond, unit: 'notifications/s', target: '>= 2000', note: `accepted at ${r.acceptedPerSecond}/s` });
    rows.push({ benchmark: `notification request → provider call at ${r.latency.rate}/s: p99`, value: r.latency.p99, unit: 'ms', target: '<= 1000', note: `p50 ${r.latency.p50} ms, max ${r.latency.max} ms, ${r.latency.count} messages` });
    rows.push({ benchmark: 'worker memory (RSS) over the notification run', value: r.rssMb.end, unit: 'MB at end', target: 'flat', note: `idle at start ${r.rssMb.start} MB; at 25/50/75/100 % of the burst ${r.rssMb.quarters.join('/')} MB; max ${r.rssMb.max} MB; end after the latency run` });
    await dropBenchDatabase(baseUrl, 'comm_bench_notifications');
  }
  if (wants('publications')) {
    const url = await freshDatabase(baseUrl, 'comm_bench_publications');
    const total = Number(process.env.BENCH_PUBLICATIONS ?? 10_000);
    const r = await benchPublications(url, process.env.BENCH_IN_PROCESS_BUS ? undefined : (process.env.NATS_URL ?? 'nats://127.0.0.1:4222'), total);
    rows.push({ benchmark: `publications end to end (${r.total} due at once, 5 platforms, ${r.bus})`, value: r.endToEndPerSecond, unit: 'publications/s', target: '>= 200', note: `accepted at ${r.acceptedPerSecond}/s` });
    rows.push({ benchmark: `publication dispatch lateness (${r.total} due over one minute): p99`, value: r.lateness.p99, unit: 'ms', target: '<= 1000', note: `p50 ${r.lateness.p50} ms, max ${r.lateness.max} ms, ${r.lateness.count} posts` });
    await dropBenchDatabase(baseUrl, 'comm_bench_publications');
  }
  if (wants('analytics')) {
    const url = await freshDatabase(baseUrl, 'comm_bench_analytics');
    const r = await benchAnalytics(url, Number(process.env.BENCH_ANALYTICS_EVENTS ?? 1_000_000));
    rows.push({ benchmark: `analytics projection catch-up, ${r.events} notification events`, value: r.catchUp.eventsPerSecond, unit: 'events/s', note: `${r.catchUp.durationMs} ms, batches of ${r.catchUp.batchSize}; loaded in ${r.loadMs} ms; ${r.hourlyRows} hourly and ${r.dailyRows} daily rows` });
    for (const q of r.queries) {
      rows.push({ benchmark: `GET /analytics, varied filters, ${q.concurrency} at a time: p99`, value: q.p99, unit: 'ms', target: '<= 50', note: `p50 ${q.p50} ms, max ${q.max} ms, ${q.requests} requests, errors ${q.errors}; slowest shape p99 ${q.slowest.p99} ms: ${q.slowest.shape}` });
    }
    rows.push({ benchmark: 'GET /analytics, every campaign × channel × platform × day (export)', value: r.largest.p50, unit: 'ms p50', note: `max ${r.largest.max} ms, ${r.largest.requests} requests` });
    await dropBenchDatabase(baseUrl, 'comm_bench_analytics');
  }
  if (wants('campaign')) {
    const url = await freshDatabase(baseUrl, 'comm_bench_campaign');
    const recipients = Number(process.env.BENCH_CAMPAIGN_RECIPIENTS ?? 100_000);
    const way = process.env.BENCH_CAMPAIGN_SEED ?? 'direct';
    if (way !== 'direct' && way !== 'crm') throw new Error(`BENCH_CAMPAIGN_SEED must be direct or crm, not ${way}`);
    const r = await benchCampaign(url, process.env.BENCH_IN_PROCESS_BUS ? undefined : (process.env.NATS_URL ?? 'nats://127.0.0.1:4222'), recipients, way);
    const setup = `setup (audience and consents, ${r.setup.way}) ${seconds(r.setup.ms)} s; ${r.bus}`;
    rows.push({ benchmark: `campaign to ${r.recipients} e-mail recipients, launch → all handed to the provider`, value: seconds(r.handedOverMs), unit: 's', target: '<= 60', note: `${r.sendPerSecond} sent/s, first at ${seconds(r.firstMs)} s; ${setup}` });
    rows.push({ benchmark: `campaign to ${r.recipients} e-mail recipients, launch → analytics up to date`, value: seconds(r.analyticsMs), unit: 's', target: '<= 60', note: `sent = ${r.recipients} in GET /analytics` });
    rows.push({ benchmark: 'worker memory (RSS) over the campaign', value: r.rssMb.end, unit: 'MB at end', target: 'flat', note: `at launch ${r.rssMb.start} MB; at 25/50/75/100 % of the sends ${r.rssMb.quarters.join('/')} MB; max ${r.rssMb.max} MB` });
    await dropBenchDatabase(baseUrl, 'comm_bench_campaign');
  }
  printTable(rows);
  await writeFile(
    new URL('./results.json', import.meta.url),
    `${JSON.stringify({ machine: { node: process.version, ...machine, at: new Date().toISOString() }, results: rows }, null, 2)}\n`,
  );
  process.stdout.write('\nwritten to bench/results.json\n');
}

const seconds = (ms: number) => Math.round(ms / 100) / 10;

function printTable(rows: Row[]): void {
  const header = ['benchmark', 'value', 'unit', 'target', 'note'];
  const cells = rows.map((r) => [r.benchmark, String(r.value), r.unit, r.target ?? '', r.note ?? '']);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i]!)).join(' | ');
  process.stdout.write(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('-|-')}\n${cells.map(line).join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
