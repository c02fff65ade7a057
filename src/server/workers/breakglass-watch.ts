import type { BreakGlassService, WatchOutcome } from '../../core/breakglass/service.ts';

/**
 * Runs the break-glass watch on a timer (policy `breakGlass.watchIntervalMinutes`, read at every
 * tick so a reloaded policy applies): timed re-seals after an emergency window, overdue drills, and
 * the comparison of each account in the directory with its seal. One pass at a time; a pass that
 * fails (directory or database away) is reported and the next one tries again, since every check
 * starts from what is stored.
 */
export class BreakGlassWatch {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = true;

  constructor(
    private readonly options: {
      readonly service: BreakGlassService;
      readonly intervalMs: () => number;
      readonly onError?: (error: unknown) => void;
    },
  ) {}

  /** One pass now (tests and `latchkey breakglass watch` call it directly). */
  runOnce(): Promise<WatchOutcome> {
    return this.options.service.runWatch();
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const schedule = (): void => {
      if (this.stopped) return;
      this.timer = setTimeout(tick, this.options.intervalMs());
      this.timer.unref();
    };
    const tick = (): void => {
      this.running = this.runOnce()
        .catch((error: unknown) => this.options.onError?.(error))
        .finally(() => {
          this.running = null;
          schedule();
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
