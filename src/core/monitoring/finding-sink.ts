import type { Finding } from './finding.ts';

/** Where detectors hand their findings; the alert service implements it. */
export interface FindingSink {
  raise(finding: Finding): Promise<void>;
}
