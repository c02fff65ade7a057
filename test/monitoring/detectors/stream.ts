import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { AccountId, FlowId } from '../../../src/core/account/ids.ts';
import type { Tier } from '../../../src/core/account/account.ts';
import type { AuditData, AuditEventType, AuditOutcome, AuditRecord } from '../../../src/core/audit/events.ts';
import { DEFAULT_POLICY_FILE_URL } from '../../../src/core/policy/default-policy.ts';
import { policySchema } from '../../../src/core/policy/schema.ts';
import type { Detector, DetectorContext, RiskFlag } from '../../../src/core/monitoring/detectors/detector.ts';
import type { MonitoringPolicy } from '../../../src/core/monitoring/detectors/settings.ts';
import type { Finding } from '../../../src/core/monitoring/finding.ts';

/** Generated once by test/fixtures/geoip/make-test-geoip.pl (Debian libmaxmind-db-writer-perl) and committed. */
export const GEOIP_FIXTURE = fileURLToPath(new URL('../../fixtures/geoip/latchkey-test-geoip.mmdb', import.meta.url));

/** The shipped policy's monitoring section, parsed by the real schema; tests copy and adjust it. */
export function shippedMonitoring(): MonitoringPolicy {
  return policySchema.parse(parse(readFileSync(DEFAULT_POLICY_FILE_URL, 'utf8'))).monitoring;
}

export const NO_CONTEXT: DetectorContext = { geo: null, denyList: null, travelWindows: null };

export interface EventFields {
  readonly subject?: string | null;
  readonly ip?: string | null;
  readonly outcome?: AuditOutcome;
  readonly reason?: string | null;
  readonly department?: string | null;
  readonly tier?: Tier | null;
  readonly flowId?: string | null;
  readonly data?: AuditData;
}

/**
 * A synthetic audit stream with an injected clock: `at` moves only when the test says so, and every
 * record gets the next seq and a readable id (`e1`, `e2`, …) the tests can assert as evidence.
 */
export class EventStream {
  private seq = 0;
  private nowMs: number;

  constructor(start: string | Date) {
    this.nowMs = new Date(start).getTime();
  }

  get now(): Date {
    return new Date(this.nowMs);
  }

  advance(seconds: number): this {
    this.nowMs += seconds * 1000;
    return this;
  }

  at(when: string | Date): this {
    this.nowMs = new Date(when).getTime();
    return this;
  }

  record(type: AuditEventType, fields: EventFields = {}): AuditRecord {
    this.seq += 1;
    return {
      seq: this.seq,
      id: `e${this.seq}`,
      prevHash: '',
      hash: '',
      type,
      at: new Date(this.nowMs),
      actor: fields.subject ? { kind: 'person', id: fields.subject } : { kind: 'anonymous', id: null },
      subject: (fields.subject ?? null) as AccountId | null,
      outcome: fields.outcome ?? (type.endsWith('failed') || type.endsWith('exhausted') || type.endsWith('rejected') ? 'failure' : type === 'recovery.started' ? 'info' : 'success'),
      reason: fields.reason ?? null,
      ip: fields.ip === undefined ? '198.51.100.7' : fields.ip,
      userAgent: null,
      department: fields.department ?? null,
      tier: fields.tier === undefined ? (fields.subject ? 'standard' : null) : fields.tier,
      flowId: (fields.flowId ?? null) as FlowId | null,
      data: fields.data ?? {},
    };
  }
}

/** Feeds records to one detector, collecting findings and flags, with its state kept between calls. */
export class Harness<S> {
  readonly state: S;
  readonly findings: Finding[] = [];
  readonly flags: RiskFlag[] = [];

  constructor(
    readonly detector: Detector<S>,
    readonly context: DetectorContext = NO_CONTEXT,
  ) {
    this.state = detector.initialState();
  }

  feed(...records: AuditRecord[]): Finding[] {
    const found: Finding[] = [];
    for (const record of records) {
      const observation = this.detector.observe(this.state, record, this.context);
      found.push(...observation.findings);
      this.flags.push(...observation.flags);
    }
    this.findings.push(...found);
    return found;
  }
}
