/**
 * A worker that drains a queue on a timer: one drain at a time, the next tick `pollIntervalMs`
 * after the previous drain ended, and a stop that waits for the drain in progress. A failed drain
 * (the database briefly away) is retried at the next tick: queues are leased, so nothing is lost.
 */
export abstract class DrainingWorker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private stopped = false;

  protected constructor(private readonly pollIntervalMs: number) {}

  start(): void {
    this.stopped = false;
    const tick = async (): Promise<void> => {
      try {
        await this.drain();
      } catch {
        // Retried at the next tick; see the class comment.
      }
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.pollIntervalMs);
    };
    this.timer = setTimeout(() => void tick(), 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Works through everything due now; returns how many items it attempted. A call during a drain joins it. */
  async drain(): Promise<number> {
    if (this.running) return this.running;
    this.running = this.drainAll().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  protected abstract drainAll(): Promise<number>;
}
