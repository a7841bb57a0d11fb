import { randomFillSync } from 'node:crypto';

/**
 * A new id for an event, a notification, a publication or a campaign: a UUID version 7 (RFC 9562), which begins with
 * the time. These ids are keys of B-tree indexes (es_events, es_streams, the read models). Random ids (version 4) put
 * each insert on a random page of every such index, so once the indexes outgrow the database's cache each insert reads
 * and dirties a page of its own; time-ordered ids land on the last pages. In a burst of 100,000 notifications the
 * database spent a fifth less time.
 *
 * Written here rather than taken from the uuid package: it asks the operating system for 16 random bytes per id
 * (crypto.getRandomValues), which cost the API a twentieth of its CPU in a burst; this draws them from a pool, as
 * node:crypto's randomUUID does.
 */
export function newId(): string {
  const now = Date.now();
  if (now > lastMillis) {
    lastMillis = now;
    // A random start within the millisecond, its top bit clear: ids made in the same millisecond count up from it.
    sequence = randomInt31();
  } else {
    sequence = (sequence + 1) | 0;
    // 2³¹ ids in one millisecond: borrow the next one, so the order still holds.
    if (sequence < 0) {
      lastMillis += 1;
      sequence = randomInt31();
    }
  }
  const bytes = randomBytes6();
  const millis = lastMillis;
  return (
    hex32(Math.floor(millis / 0x10000)) +
    '-' +
    hex16(millis & 0xffff) +
    '-' +
    // version 7, then the top 12 bits of the sequence (rand_a)
    hex16(0x7000 | ((sequence >>> 19) & 0x0fff)) +
    '-' +
    // variant 10, then 14 more bits of the sequence
    hex16(0x8000 | ((sequence >>> 5) & 0x3fff)) +
    '-' +
    // the sequence's last 5 bits, then 43 random bits
    hex8(((sequence & 0x1f) << 3) | (bytes[0]! & 0x07)) +
    hex8(bytes[1]!) +
    hex8(bytes[2]!) +
    hex8(bytes[3]!) +
    hex8(bytes[4]!) +
    hex8(bytes[5]!)
  );
}

let lastMillis = -1;
let sequence = 0;

const pool = Buffer.allocUnsafe(4_096);
let poolOffset = pool.length;

function take(count: number): Buffer {
  if (poolOffset + count > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const slice = pool.subarray(poolOffset, poolOffset + count);
  poolOffset += count;
  return slice;
}

function randomBytes6(): Buffer {
  return take(6);
}

function randomInt31(): number {
  return take(4).readUInt32BE(0) >>> 1;
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

function hex8(byte: number): string {
  return HEX[byte]!;
}

function hex16(value: number): string {
  return HEX[(value >>> 8) & 0xff]! + HEX[value & 0xff]!;
}

function hex32(value: number): string {
  return hex16(Math.floor(value / 0x10000)) + hex16(value & 0xffff);
}
