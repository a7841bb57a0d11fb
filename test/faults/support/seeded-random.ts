/**
 * A small seeded generator (mulberry32): the faults a run injects are drawn from it, so the same seed gives the same
 * sequence of decisions. Which call meets which decision still depends on the order calls arrive in.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A seed per name, so each double draws its own sequence from the run's seed. */
export function seedFor(runSeed: number, name: string): number {
  let hash = runSeed >>> 0;
  for (const char of name) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return hash;
}
