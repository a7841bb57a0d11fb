/**
 * Suites that need PostgreSQL or NATS run when DATABASE_URL / NATS_URL are set. In CI (CI=true) both must be set:
 * a CI run that silently skipped them would prove nothing.
 */
export default function setup(): void {
  const missing = ['DATABASE_URL', 'NATS_URL'].filter((name) => !process.env[name]);
  if (process.env.CI === 'true' && missing.length > 0) {
    throw new Error(`CI=true but ${missing.join(' and ')} not set: the PostgreSQL/NATS suites may not be skipped in CI`);
  }
  if (missing.length > 0) {
    console.log(
      `\n[tests] ${missing.join(', ')} not set: suites needing ${missing
        .map((m) => (m === 'DATABASE_URL' ? 'PostgreSQL' : 'NATS'))
        .join(' and ')} are skipped; the rest run on PGlite and the in-process bus.\n`,
    );
  }
}
