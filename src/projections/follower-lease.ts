import { createHash } from 'node:crypto';
import pg from 'pg';
import type { SqlClient } from '../infrastructure/database/sql-client.js';

/** The right to follow one checkpoint, held for as long as the follower follows it. */
export interface FollowerLease {
  /** Settles when the lease is lost (its connection died): from then on another process may take over. */
  readonly lost: Promise<void>;
  release(): Promise<void>;
}

/** Hands out leases so that, among processes sharing a database, one follower at a time follows each checkpoint. */
export interface FollowerLeases {
  /** The lease on `name`, or null while another follower holds it. */
  tryAcquire(name: string): Promise<FollowerLease | null>;
  /** Gives back every lease this process holds. */
  close(): Promise<void>;
}

export interface LeaseOptions {
  /** Default: no coordination (one process per database). */
  leases?: FollowerLeases;
  /** How often a standby asks again for the lease. Default 3 s. */
  leaseRetryMs?: number;
}

/** PGlite serves a single process: every lease is granted and never lost. */
export const singleProcessLeases: FollowerLeases = {
  tryAcquire: async () => ({ lost: new Promise<void>(() => undefined), release: async () => undefined }),
  close: async () => undefined,
};

/** The leases for this database: advisory locks on PostgreSQL; none on PGlite, which only one process opens. */
export function followerLeasesFor(sql: SqlClient, options: AdvisoryLockLeaseOptions = {}): FollowerLeases {
  if (sql.kind === 'pglite') return singleProcessLeases;
  // The pool's own settings (address, credentials, search_path), for one connection outside the pool.
  const config = sql.pool.options;
  return new AdvisoryLockLeases(() => new pg.Client({ ...config, application_name: 'comm-follower-leases', keepAlive: true }), sql.schema, options);
}

export interface AdvisoryLockLeaseOptions {
  /** How often the lease connection is checked; a check that fails or hangs this long ends every lease. Default 5 s. */
  heartbeatMs?: number;
}

interface Session {
  client: pg.Client;
  /**
   * A query on the session's connection, after the ones before it have finished. Every follower of the process asks
   * for its lease at start-up at once, and the heartbeat comes whenever: handing pg a query while another runs on the
   * same client is deprecated (pg 8 queues it and warns; pg 9 will refuse it).
   */
  query<R extends pg.QueryResultRow>(text: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  lost: Promise<void>;
  dead: boolean;
  heartbeat?: NodeJS.Timeout;
  /** Closes the connection, which frees its locks; resolves once the server has it. */
  end(): Promise<void>;
}

/**
 * PostgreSQL session advisory locks, all held on one connection of their own: a lock lives exactly as long as that
 * session, so it is released when the process dies or its connection is cut, and a standby elsewhere then gets it.
 */
export class AdvisoryLockLeases implements FollowerLeases {
  private current: Session | null = null;
  private connecting: Promise<Session> | null = null;
  /** Session locks are re-entrant: a second follower of the same name in this process must wait like any other. */
  private readonly held = new Set<string>();
  private closed = false;

  constructor(
    private readonly connect: () => pg.Client,
    /** Two services sharing a database in different schemas have separate checkpoints, hence separate leases. */
    private readonly scope: string,
    private readonly options: AdvisoryLockLeaseOptions = {},
  ) {}

  async tryAcquire(name: string): Promise<FollowerLease | null> {
    if (this.closed) throw new Error('The follower leases are closed');
    if (this.held.has(name)) return null;
    const session = await this.session();
    const key = leaseKey(this.scope, name);
    const { rows } = await session.query<{ granted: boolean }>('select pg_try_advisory_lock($1::bigint) as granted', [key]);
    if (!rows[0]?.granted) return null;
    if (this.held.has(name)) {
      // Another follower of this name got it on this same session meanwhile: undo the re-entrant count.
      await session.query('select pg_advisory_unlock($1::bigint)', [key]);
      return null;
    }
    this.held.add(name);
    let released = false;
    return {
      lost: session.lost,
      release: async () => {
        if (released) return;
        released = true;
        this.held.delete(name);
        if (!session.dead) await session.query('select pg_advisory_unlock($1::bigint)', [key]).catch(() => session.end());
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const session = await this.connecting?.catch(() => null);
    await (session ?? this.current)?.end();
    this.held.clear();
  }

  private session(): Promise<Session> {
    if (this.current && !this.current.dead) return Promise.resolve(this.current);
    this.connecting ??= this.open()
      .then((session) => (this.current = session))
      .finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async open(): Promise<Session> {
    const client = this.connect();
    let markLost!: () => void;
    const heartbeatMs = this.options.heartbeatMs ?? 5_000;
    let ended: Promise<void> | undefined;
    let previous: Promise<unknown> = Promise.resolve();
    const session: Session = {
      client,
      query<R extends pg.QueryResultRow>(text: string, params?: unknown[]) {
        const next = previous.then(() => client.query<R>(text, params));
        previous = next.catch(() => undefined);
        return next;
      },
      lost: new Promise<void>((resolve) => (markLost = resolve)),
      dead: false,
      end() {
        session.dead = true;
        clearInterval(session.heartbeat);
        markLost();
        ended ??= client.end().catch(() => undefined);
        return ended;
      },
    };
    client.on('error', () => void session.end());
    client.on('end', () => void session.end());
    try {
      await client.connect();
      // The server notices a vanished host within ~25 s (instead of the system's two hours) and frees its locks.
      await session.query('set tcp_keepalives_idle = 10; set tcp_keepalives_interval = 5; set tcp_keepalives_count = 3');
    } catch (error) {
      await session.end();
      throw error;
    }
    // A half-open connection raises no error by itself: a check that fails or hangs ends the session.
    session.heartbeat = setInterval(() => void withTimeout(session.query('select 1'), heartbeatMs).catch(() => session.end()), heartbeatMs);
    session.heartbeat.unref();
    return session;
  }
}

/** The advisory lock key of a checkpoint: a stable signed 64-bit hash of its scope and name. */
export function leaseKey(scope: string, name: string): string {
  return createHash('sha256').update(`${scope}\u0000${name}`).digest().readBigInt64BE(0).toString();
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
