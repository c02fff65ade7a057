import type { HashRateResult } from './hash.ts';
import type { LoopDelay, ServerCounters } from './sql-probe.ts';

/** Messages between the bench (parent) and a server it started (child), over the IPC channel. */

export type ParentMessage =
  | { readonly type: 'profile-start'; readonly samplingIntervalUs: number }
  | { readonly type: 'profile-stop'; readonly file: string }
  | { readonly type: 'counters' }
  /** `cap`: 'server' measures the server's own hasher; 'all-cores' the same parameters with one slot per core. */
  | { readonly type: 'hash-rate'; readonly cap: 'server' | 'all-cores'; readonly inFlight: number; readonly warmupMs: number; readonly durationMs: number }
  | { readonly type: 'stop' };

export type ChildMessage =
  | { readonly type: 'ready'; readonly port: number; readonly description: string }
  | { readonly type: 'profile-started' }
  | { readonly type: 'profile-stopped'; readonly file: string }
  | { readonly type: 'counters'; readonly counters: ServerCounters; readonly loop: LoopDelay }
  | { readonly type: 'hash-rate'; readonly result: HashRateResult }
  | { readonly type: 'error'; readonly message: string };

export function isParentMessage(value: unknown): value is ParentMessage {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

export function isChildMessage(value: unknown): value is ChildMessage {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

/** Sends to the parent; a child started without IPC has nobody to tell. */
export function toParent(message: ChildMessage): void {
  process.send?.(message);
}
