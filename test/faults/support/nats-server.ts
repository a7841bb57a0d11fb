import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.js';

/**
 * A nats-server with JetStream that the suite owns, so it can be stopped and started again on the same port and store
 * directory without touching the machine's own server. Readiness is JetStream's health endpoint, not just the port.
 */

export interface NatsServer {
  url: string;
  port: number;
  storeDir: string;
  /** Stops the server (SIGTERM: JetStream flushes its stores) and waits until it has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port and store directory; resolves once JetStream is ready. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface NatsServerOptions {
  binary?: string;
  storeDir: string;
  logFile: string;
}

export async function startNatsServer(options: NatsServerOptions): Promise<NatsServer> {
  const binary = options.binary ?? process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
  const port = await freePort();
  const monitorPort = await freePort();
  const log: WriteStream = createWriteStream(options.logFile, { flags: 'a' });
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    log.write(`=== nats-server start ${new Date().toISOString()}\n`);
    const started = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-js', '-sd', options.storeDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.stdout?.pipe(log, { end: false });
    started.stderr?.pipe(log, { end: false });
    exited = new Promise((resolve) => started.once('exit', () => resolve()));
    child = started;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (started.exitCode !== null) throw new Error(`nats-server exited at start (code ${started.exitCode}); see ${options.logFile}`);
      try {
        const response = await fetch(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`nats-server not ready on port ${port}; see ${options.logFile}`);
      await sleep(100);
    }
  };

  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir: options.storeDir,
    stop,
    start,
    async close() {
      await stop();
      await new Promise<void>((resolve) => log.end(() => resolve()));
    },
  };
}
