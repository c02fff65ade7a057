import type { DetectorRunner, RunOutcome } from '../../core/monitoring/detector-runner.ts';

/** Anything the worker keeps fresh beside the runner: deny-list files, the GeoIP database. */
export interface Refreshable {
  refresh(): Promise<boolean>;
}

export interface DetectorWorkerOptions {
  readonly runner: DetectorRunner;
  readonly pollIntervalMs: number;
  /** Files checked for changes every `refreshIntervalMs`. */
  readonly refreshables?: readonly Refreshable[];
  readonly refreshIntervalMs?: number;
  /** Told about a failed poll or refresh (the worker keeps going; nothing is lost). */
  readonly onError?: (error: unknown) => void;
}

/**
 * Runs the detectors off the request path: tails the audit log every `pollIntervalMs` through the
 * runner (durable cursor and state, see DetectorRunner), and re-reads changed deny-list and GeoIP
 * files every `refreshIntervalMs`. Safe in every instance: runners of several instances share the
 * cursor through a compare-and-set.
 */
export class DetectorWorker {
  private timer: NodeJS.Timeout | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private stopped = true;
  private current: Promise<unknown> | null = null;

  constructor(private readonly options: DetectorWorkerOptions) {}

  start(): void {
    this.stopped = false;
    const tick = async (): Promise<void> => {
      try {
        await (this.current = this.options.runner.run());
      } catch (error) {
        this.options.onError?.(error);
      }
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.options.pollIntervalMs);
    };
    this.timer = setTimeout(() => void tick(), 0);
    if (this.options.refreshables?.length) {
      this.refreshTimer = setInterval(() => void this.refresh(), this.options.refreshIntervalMs ?? 60_000);
      this.refreshTimer.unref();
    }
  }

  /** Re-reads changed files now (also what SIGHUP does). */
  async refresh(): Promise<void> {
    for (const item of this.options.refreshables ?? []) {
      try {
        await item.refresh();
      } catch (error) {
        this.options.onError?.(error);
      }
    }
  }

  /** Judges everything up to now and returns; for the CLI and tests. */
  runOnce(): Promise<RunOutcome> {
    return this.options.runner.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.timer = null;
    this.refreshTimer = null;
    await this.current?.catch(() => undefined);
  }
}
