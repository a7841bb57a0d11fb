import { Writable } from 'node:stream';
import { pino, type Level } from 'pino';
import type { Logger } from '../../src/infrastructure/logging/logger.js';

/** A logger whose lines are kept, parsed, in `lines` as they are written: to check what reaches the logs. */
export function capturingLogger(level: Level = 'debug'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
