import type { RecoveryService } from '../../core/flows/recovery/service.ts';
import type { PrivilegedRecovery } from '../../core/flows/recovery/privileged-recovery.ts';

/**
 * Runs the interrupted-flow sweep at start and then every `intervalMs`. Safe in every instance:
 * each flow is closed by a compare-and-set, so two sweepers never both record it.
 */
export class FlowSweeper {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly recovery: RecoveryService,
    private readonly intervalMs = 60_000,
    /** Privileged holds past their deadline are marked unconfirmed on the same tick (also compare-and-set). */
    private readonly privileged: PrivilegedRecovery | null = null,
    /** Temporary Access Passes that ran out unused are retired and `tap.expired` recorded (each once, by a conditional update). */
    private readonly accessPasses: { sweepExpired(): Promise<number> } | null = null,
  ) {}

  start(): void {
    const tick = (): void => {
      this.recovery.sweepInterrupted().catch(() => {
        // The database was briefly away; the next tick tries again and nothing is lost meanwhile.
      });
      this.privileged?.expireOverdue().catch(() => {
        // As above: an overdue hold is also marked on its next read, so a missed tick delays nothing for long.
      });
      this.accessPasses?.sweepExpired().catch(() => {
        // An expired pass cannot be used whether or not it was retired yet; the next tick records it.
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
