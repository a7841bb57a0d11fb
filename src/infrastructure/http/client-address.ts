import { normalizeIP } from '@fastify/rate-limit';

/** How limits and abuse counters name a client: IPv6 per /64, as one host can use a whole subnet; IPv4-mapped as IPv4. */
export function clientAddress(ip: string): string {
  return normalizeIP(ip);
}
