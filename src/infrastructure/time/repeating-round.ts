/**
 * Runs a round of work at start, then again `intervalMs` after each round ends (never two at once). A failed round is
 * reported and the next one comes as usual: the pollers built on this (campaign clock, token refresher, price lookups,
 * performance checks) pick up where the failed round stopped.
 */
export class RepeatingRound {
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<unknown> | null = null;
  private active = false;

  constructor(
    private readonly round: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Whether rounds go on: a long round can check it to end early once stop() was called. */
  get running(): boolean {
    return this.active;
  }

  start(): void {
    if (this.active) return;
    this.active = true;
    this.schedule(0);
  }

  /** No round after this; waits for the one under way. */
  async stop(): Promise<void> {
    this.active = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.ticking;
  }

  private schedule(delayMs: number): void {
    if (!this.active) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.ticking = this.round()
        .catch(this.onError)
        .finally(() => this.schedule(this.intervalMs));
    }, delayMs);
    // A pending round must not keep the process alive on its own.
    this.timer.unref();
  }
}
