import type { RecoveryService } from '../../core/flows/recovery/service.ts';

/**
 * Runs the interrupted-flow sweep at start and then every `intervalMs`. Safe in every instance:
 * each flow is closed by a compare-and-set, so two sweepers never both record it.
 */
export class FlowSweeper {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly recovery: RecoveryService,
    private readonly intervalMs = 60_000,
  ) {}

  start(): void {
    const tick = (): void => {
      this.recovery.sweepInterrupted().catch(() => {
        // The database was briefly away; the next tick tries again and nothing is lost meanwhile.
      });
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
