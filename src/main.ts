import { createApp } from './app.js';
import { loadConfigFiles } from './infrastructure/config/config-files.js';
import { ConfigError, loadEnv } from './infrastructure/config/env.js';
import { createLogger } from './infrastructure/logging/logger.js';

/** Composition root: read the configuration, open storage, run the API and the projectors. */
async function main(): Promise<void> {
  const env = loadEnv();
  const files = await loadConfigFiles(env.COMM_CONFIG_DIR);
  const logger = createLogger(env.LOG_LEVEL);
  const roles = env.COMM_ROLES;
  const app = await createApp({ env, logger, files, api: roles.has('api'), projector: roles.has('projector'), worker: roles.has('worker') });
  // Without the api role the probes and /metrics still answer, so orchestrators can watch a worker or projector.
  const address = await app.start({ port: env.PORT, host: env.HOST });
  logger.info({ address, roles: [...roles], docs: `${address}/docs` }, 'communication module listening');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // The outer bound: whatever hangs, the process is gone 15 s after the signal.
    const force = setTimeout(() => {
      logger.error('shutdown did not finish within 15 s; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    app.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`Configuration error: ${error.message}\n`);
  } else {
    process.stderr.write(`Start-up failed: ${(error as Error).stack ?? String(error)}\n`);
  }
  process.exit(1);
});
