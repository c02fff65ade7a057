/** Why a start was refused: the detector whose rule matched, and which rule. */
export interface RiskRefusal {
  readonly detectorId: string;
  /** `deny_list`, `flagged_ip` or `flagged_network`. */
  readonly rule: 'deny_list' | 'flagged_ip' | 'flagged_network';
}

/**
 * Consulted by RecoveryService at every reset or unlock start, on the request path: in-memory
 * lookups only, no I/O, no await. A refusal turns the flow into a decoy (the reply does not change)
 * and is audited as `recovery.risk_refused`. Safe to call concurrently with the detector worker
 * updating what it knows.
 */
export interface RecoveryRiskCheck {
  assessStart(ip: string, now: Date): RiskRefusal | null;
}
