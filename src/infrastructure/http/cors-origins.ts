/**
 * COMM_CORS_ORIGINS: the browser origins allowed to call the API, comma-separated, each exactly as a browser sends it
 * in the Origin header (scheme, host, optional port; no path, no trailing slash). No wildcard: a key-carrying API
 * opened to every site would let any page a staff member visits use a key it got hold of.
 */
export function parseCorsOrigins(text: string): string[] {
  const origins = text
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  for (const origin of origins) {
    if (!/^https?:\/\/[^\s/?#@]+$/i.test(origin)) {
      throw new Error(`${origin} is not an origin: write it as https://host or https://host:port, without a path`);
    }
  }
  return [...new Set(origins.map((origin) => origin.toLowerCase()))];
}
