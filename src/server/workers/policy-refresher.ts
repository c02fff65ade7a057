import type { PolicyService } from '../../core/policy/paths/policy-service.ts';

/**
 * Polls the database for a newer published policy version and applies it, so a version published
 * on one instance (or with the CLI) is in force on every instance within one interval. Each tick is
 * one indexed read when nothing changed. Ticks never overlap: the next is scheduled when one ends.
 */
export class PolicyRefresher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(
    private readonly policies: PolicyService,
    private readonly intervalMs: number,
    private readonly onChange: (version: number) => void = () => undefined,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = null;
        this.schedule();
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      if (await this.policies.refresh()) this.onChange(this.policies.currentVersion().version);
    } catch (error) {
      // The database was briefly away: the version in force stays, and the next tick tries again.
      this.onError(error);
    }
  }
}
