/**
 * Gathers the calls made while the event loop is busy into one batch: the first call schedules a flush with
 * setImmediate, every call until then joins it, up to maxBatch per flush. Dozens of concurrent handlers that each read
 * one row or append one event then cost one round trip to the database instead of dozens, and a lone call waits for
 * no timer.
 *
 * run() gets the inputs of one batch and answers one settled result per input, in the same order, so that one bad
 * input fails only its own caller.
 */
export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

export class MicroBatcher<I, R> {
  private queue: { input: I; resolve: (value: R) => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly run: (inputs: I[]) => Promise<Settled<R>[]>,
    private readonly maxBatch = 200,
  ) {}

  call(input: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const pending = this.queue;
    this.queue = [];
    for (let start = 0; start < pending.length; start += this.maxBatch) {
      const batch = pending.slice(start, start + this.maxBatch);
      this.run(batch.map((entry) => entry.input)).then(
        (results) =>
          batch.forEach((entry, index) => {
            const result = results[index];
            if (!result) entry.reject(new Error('batch answered fewer results than inputs'));
            else if (result.ok) entry.resolve(result.value);
            else entry.reject(result.error);
          }),
        (error: unknown) => batch.forEach((entry) => entry.reject(error)),
      );
    }
  }
}

/** Runs fn and captures its outcome as a Settled. */
export async function settle<R>(fn: () => Promise<R>): Promise<Settled<R>> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}
