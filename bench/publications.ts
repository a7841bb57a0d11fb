import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startGoogleBusinessDouble } from '../test/doubles/google-business-double.js';
import { startGraphApiDouble } from '../test/doubles/graph-api-double.js';
import { startLinkedInDouble } from '../test/doubles/linkedin-double.js';
import { startXApiDouble } from '../test/doubles/x-api-double.js';
import { runStreams } from './nats-streams.js';
import { startService } from './service-process.js';

export interface PublicationBench {
  total: number;
  /** Burst: every publication due at once; publications published per second from the due time to the last one. */
  endToEndPerSecond: number;
  acceptedPerSecond: number;
  /** Spread: publications due evenly over one minute; scheduled time → attempt started, per platform post. */
  lateness: { count: number; p50: number; p99: number; max: number };
  bus: string;
}

const platforms = ['facebook', 'instagram', 'twitter', 'google_business', 'linkedin'] as const;

/**
 * The service as its own process (API, projector, scheduler, workers), every platform pointed at its local double.
 * 1. burst: `total` publications (one platform each, round robin) all due at the same moment: end-to-end rate;
 * 2. spread: `total` more due evenly over one minute: dispatch lateness (scheduled_time → PlatformPublishingStarted).
 */
export async function benchPublications(databaseUrl: string, natsUrl: string | undefined, total = 10_000): Promise<PublicationBench> {
  const token = 'bench-token';
  const oauth1 = { consumerKey: 'ck', consumerSecret: 'cs', token: 'at', tokenSecret: 'ats' };
  const graph = await startGraphApiDouble({ pageId: '1001', igUserId: '1002', accessTokens: [token], containerPollsBeforeFinished: 0, publishingQuota: 10_000_000 });
  const x = await startXApiDouble({ oauth1 });
  const gbp = await startGoogleBusinessDouble({ accountId: 'a1', locationId: 'l1', accessToken: token });
  const linkedin = await startLinkedInDouble({ organizationId: '42', accessToken: token });
  const configDir = await mkdtemp(join(tmpdir(), 'comm-bench-config-'));
  await mkdir(join(configDir, 'templates'));
  const unlimited = { posts_per_24h: null };
  await writeFile(
    join(configDir, 'platforms.json'),
    JSON.stringify({
      facebook: { page_id: '1001', access_token: token, base_url: graph.url, ...unlimited },
      instagram: { business_account_id: '1002', access_token: token, base_url: graph.url, ...unlimited },
      twitter: { api_key: oauth1.consumerKey, api_secret: oauth1.consumerSecret, access_token: oauth1.token, access_token_secret: oauth1.tokenSecret, base_url: x.url, ...unlimited },
      google_business: { account_id: 'a1', location_id: 'l1', access_token: token, base_url: gbp.url, ...unlimited },
      linkedin: { organization_id: '42', access_token: token, base_url: linkedin.url, ...unlimited },
    }),
  );
  const streams = runStreams('publications');
  const service = await startService({
    DATABASE_URL: databaseUrl,
    NATS_URL: natsUrl ?? '',
    COMM_CONFIG_DIR: configDir,
    ...streams.env,
    // The doubles listen on loopback and the Instagram image host is made up: let the outbound guard pass them.
    COMM_OUTBOUND_ALLOWLIST: '127.0.0.1,localhost,cdn.levieuxmoulin.fr',
  }).catch(async (error: unknown) => {
    // The service did not come up: what this run made goes all the same.
    await Promise.all([graph.close(), x.close(), gbp.close(), linkedin.close()]);
    if (natsUrl) await streams.delete(natsUrl);
    throw error;
  });
  const { url, key } = service;
  const db = new pg.Client({ connectionString: databaseUrl });
  try {
    await db.connect();
    const publish = async (index: number, at: Date) => {
      const platform = platforms[index % platforms.length]!;
      const response = await fetch(`${url}/api/communication/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({
          content: {
            title: '',
            body: `Menu du jour n°${index} au Vieux Moulin : soupe de poisson, magret, tarte aux pommes.`,
            media_urls: platform === 'instagram' ? [`https://cdn.levieuxmoulin.fr/menu-${index}.jpg`] : [],
            hashtags: ['vensac'],
          },
          platforms: [platform],
          scheduled_time: at.toISOString(),
        }),
      });
      if (response.status !== 202) throw new Error(`publish answered ${response.status}: ${await response.text()}`);
    };
    const submit = async (from: number, count: number, timeOf: (i: number) => Date) => {
      let next = from;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < from + count) {
            const i = next++;
            await publish(i, timeOf(i - from));
          }
        }),
      );
    };
    const published = async () => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM es_events WHERE type = 'PlatformPublished'`)).rows[0]!.n);
    const waitPublished = async (count: number) => {
      const deadline = Date.now() + 15 * 60_000;
      while ((await published()) < count) {
        if (Date.now() > deadline) throw new Error(`only ${await published()} of ${count} published in time`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };

    // 1. burst
    const burstAt = new Date(Date.now() + 45_000);
    const submitStart = Date.now();
    await submit(0, total, () => burstAt);
    const acceptedPerSecond = Math.round((total / (Date.now() - submitStart)) * 1000);
    if (Date.now() > burstAt.getTime()) throw new Error('submission took longer than the lead time; lower BENCH_PUBLICATIONS');
    await waitPublished(total);
    const lastPublished = (await db.query<{ t: Date }>(`SELECT max(created_at) AS t FROM es_events WHERE type = 'PlatformPublished'`)).rows[0]!.t;
    const endToEndPerSecond = Math.round((total / (lastPublished.getTime() - burstAt.getTime())) * 1000);

    // 2. spread over one minute
    const spreadStart = Date.now() + 45_000;
    await submit(total, total, (i) => new Date(spreadStart + Math.floor((i * 60_000) / total)));
    await waitPublished(2 * total);
    const rows = await db.query<{ ms: number }>(`
      SELECT extract(epoch FROM ((s.data->>'started_at')::timestamptz - (p.data->>'scheduled_time')::timestamptz)) * 1000 AS ms
      FROM es_events s JOIN es_events p ON p.stream_id = s.stream_id AND p.type = 'PublicationScheduled'
      WHERE s.type = 'PlatformPublishingStarted' AND (p.data->>'scheduled_time')::timestamptz >= $1`, [new Date(spreadStart)]);
    const lateness = rows.rows.map((r) => Number(r.ms)).sort((a, b) => a - b);
    const pct = (p: number) => Math.round(lateness[Math.min(lateness.length - 1, Math.floor(p * lateness.length))]!);
    return {
      total,
      endToEndPerSecond,
      acceptedPerSecond,
      lateness: { count: lateness.length, p50: pct(0.5), p99: pct(0.99), max: Math.round(lateness.at(-1)!) },
      bus: natsUrl ? 'nats-jetstream' : 'in-process',
    };
  } finally {
    await db.end().catch(() => undefined);
    await service.stop();
    await Promise.all([graph.close(), x.close(), gbp.close(), linkedin.close()]);
    if (natsUrl) await streams.delete(natsUrl);
  }
}

