import { MAX_EVIDENCE } from './detector.ts';

/**
 * One sliding window of events for one key (an account, an address, a network): entries are
 * `[distinctKey, atMs, eventId]`, oldest first. A repeat of a distinct key moves to the end, so the
 * window counts distinct keys (accounts touched) or, with the event id as the key, events.
 * `alerted` is set once a finding was raised for the episode and cleared when the window falls back
 * under its threshold, so one episode raises one finding, and a later one raises again.
 */
export interface SlidingWindow {
  entries: [string, number, string][];
  alerted: boolean;
}

/** Windows by key, with the time of the last sweep that dropped idle keys. */
export interface SlidingWindows {
  byKey: Record<string, SlidingWindow>;
  sweptAtMs: number;
}

export const emptyWindows = (): SlidingWindows => ({ byKey: {}, sweptAtMs: 0 });

const prune = (window: SlidingWindow, nowMs: number, windowMs: number): void => {
  const first = window.entries.findIndex(([, at]) => at > nowMs - windowMs);
  window.entries.splice(0, first < 0 ? window.entries.length : first);
};

/**
 * Adds an event to the key's window and returns the window. Entries beyond `max(threshold, 50)` are
 * dropped oldest first: enough to judge the threshold and to cite the evidence, and a bound on the
 * memory an attacker can make the detector hold.
 */
export function addToWindow(windows: SlidingWindows, key: string, distinct: string, atMs: number, eventId: string, windowMs: number, threshold: number): SlidingWindow {
  const window = (windows.byKey[key] ??= { entries: [], alerted: false });
  prune(window, atMs, windowMs);
  const existing = window.entries.findIndex(([seen]) => seen === distinct);
  if (existing >= 0) window.entries.splice(existing, 1);
  window.entries.push([distinct, atMs, eventId]);
  const cap = Math.max(threshold, MAX_EVIDENCE);
  if (window.entries.length > cap) window.entries.splice(0, window.entries.length - cap);
  if (window.entries.length < threshold) window.alerted = false;
  sweep(windows, atMs, windowMs);
  return window;
}

/** Drops keys with nothing left in their window; runs at most once per window length. */
function sweep(windows: SlidingWindows, nowMs: number, windowMs: number): void {
  if (nowMs - windows.sweptAtMs < windowMs) return;
  windows.sweptAtMs = nowMs;
  for (const [key, window] of Object.entries(windows.byKey)) {
    prune(window, nowMs, windowMs);
    if (window.entries.length === 0) delete windows.byKey[key];
  }
}

/** Seconds, in words, for summaries: 900 → "15 minutes". */
export function spanInWords(seconds: number): string {
  if (seconds % 86_400 === 0) return seconds === 86_400 ? '24 hours' : `${seconds / 86_400} days`;
  if (seconds % 3_600 === 0) return seconds === 3_600 ? '1 hour' : `${seconds / 3_600} hours`;
  if (seconds % 60 === 0) return seconds === 60 ? '1 minute' : `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}
