/**
 * A clicked link as integration events pass it on: without its fragment and its query parameters other than utm_*.
 * Links in our messages may carry a per-recipient token (unsubscribe, booking, tracking), which must not spread to
 * every subscriber; the campaign parameters are what a report needs.
 */
export function publicClickUrl(url: string): string {
  const parsed = new URL(url);
  const kept = [...parsed.searchParams].filter(([name]) => name.toLowerCase().startsWith('utm_'));
  parsed.search = kept.length === 0 ? '' : new URLSearchParams(kept).toString();
  parsed.hash = '';
  return parsed.toString();
}
