/**
 * What happened to each subject (a client address, a key prefix) during the last `windowMs`, in memory.
 * Memory stays bounded whatever a client sends: at most `maxSubjects` subjects (the least recently seen go first)
 * and `maxEntriesPerSubject` entries each (the oldest go first, so counts saturate there).
 */
export class SlidingWindowLog<T> {
  private readonly entries = new Map<string, { at: number; value: T }[]>();

  constructor(
    readonly windowMs: number,
    private readonly limits: { maxSubjects?: number; maxEntriesPerSubject?: number } = {},
  ) {}

  /** Records an entry and returns the subject's entries still in the window, oldest first. */
  add(subject: string, value: T, now: number): readonly { at: number; value: T }[] {
    const list = this.current(subject, now);
    list.push({ at: now, value });
    const maxEntries = this.limits.maxEntriesPerSubject ?? 1_000;
    if (list.length > maxEntries) list.splice(0, list.length - maxEntries);
    // Re-inserted last: the Map's first key is then the subject seen least recently.
    this.entries.delete(subject);
    this.entries.set(subject, list);
    this.evict();
    return list;
  }

  /** The subject's entries still in the window, oldest first. */
  get(subject: string, now: number): readonly { at: number; value: T }[] {
    return this.current(subject, now);
  }

  get size(): number {
    return this.entries.size;
  }

  private current(subject: string, now: number): { at: number; value: T }[] {
    const list = this.entries.get(subject);
    if (!list) return [];
    const firstInWindow = list.findIndex((entry) => entry.at > now - this.windowMs);
    if (firstInWindow === -1) {
      this.entries.delete(subject);
      return [];
    }
    if (firstInWindow > 0) list.splice(0, firstInWindow);
    return list;
  }

  private evict(): void {
    const maxSubjects = this.limits.maxSubjects ?? 10_000;
    while (this.entries.size > maxSubjects) this.entries.delete(this.entries.keys().next().value!);
  }
}
