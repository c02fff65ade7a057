import { hostname as machineHostname } from 'node:os';
import type { AuditRecord } from '../../core/audit/events.ts';
import { toExportedRecord } from '../../core/audit/formats/json.ts';
import { toOcsf } from '../../core/audit/formats/ocsf.ts';
import { signWebhookRequest } from '../channel/sms-http/sms-webhook-channel.ts';
import type { HttpSinkConfig } from './config.ts';
import { BatchRejectedError, type AuditExportSink } from './sink.ts';

/** One event of a generic batch: the idempotency key first, then the position and the body. */
export interface GenericBatchItem {
  readonly idempotencyKey: string;
  readonly seq: number;
  readonly event: unknown;
}

/**
 * The HTTP sink: one POST per batch, either
 *
 * - `generic`: `Content-Type: application/json`, body a JSON array of
 *   `{"idempotencyKey":"<event id>","seq":n,"event":{…}}`; with `hmacSecret`, the same
 *   `X-Latchkey-Timestamp` / `X-Latchkey-Signature: sha256=<hex HMAC of "<timestamp>.<body>">`
 *   headers as the SMS webhook, so one verifier serves both;
 * - `splunk_hec`: Splunk HTTP Event Collector, `Authorization: Splunk <token>`, body newline-
 *   separated `{"time":<epoch s>,"host":…,"source":…,"sourcetype":…,["index":…,]"event":{…},
 *   "fields":{"event_id":…,"seq":…}}` objects; `X-Splunk-Request-Channel` when configured.
 *
 * A 2xx answer acknowledges the whole batch. 408, 429, 5xx, redirects, network errors and timeouts
 * are retried. Any other 4xx means the receiver refused this very batch (malformed, too large,
 * unauthorised): sending it again would loop forever, so it is a BatchRejectedError and the exporter
 * stops the sink until an operator resumes it.
 */
export function createHttpSink(config: HttpSinkConfig, productVersion: string): AuditExportSink {
  const host = config.hostname ?? machineHostname();
  const body = (record: AuditRecord): unknown => (config.format === 'ocsf' ? toOcsf(record, productVersion) : toExportedRecord(record));

  const request = (records: readonly AuditRecord[]): { headers: Record<string, string>; payload: string } => {
    if (config.api === 'splunk_hec') {
      const payload = records
        .map((record) =>
          JSON.stringify({
            time: record.at.getTime() / 1000,
            host,
            source: config.source,
            sourcetype: config.sourcetype,
            ...(config.index ? { index: config.index } : {}),
            event: body(record),
            fields: { event_id: record.id, seq: record.seq },
          }),
        )
        .join('\n');
      return {
        headers: {
          'Content-Type': 'application/json',
          Authorization: `Splunk ${config.token ?? ''}`,
          ...(config.channel ? { 'X-Splunk-Request-Channel': config.channel } : {}),
        },
        payload,
      };
    }
    const items: GenericBatchItem[] = records.map((record) => ({ idempotencyKey: record.id, seq: record.seq, event: body(record) }));
    const payload = JSON.stringify(items);
    const timestamp = String(Math.floor(Date.now() / 1000));
    return {
      headers: {
        'Content-Type': 'application/json',
        ...(config.hmacSecret ? { 'X-Latchkey-Timestamp': timestamp, 'X-Latchkey-Signature': signWebhookRequest(config.hmacSecret, timestamp, payload) } : {}),
      },
      payload,
    };
  };

  return {
    name: config.name,
    kind: 'http',
    async deliver(records) {
      if (records.length === 0) return;
      const { headers, payload } = request(records);
      let status: number;
      try {
        const signal = AbortSignal.timeout(config.timeoutMs);
        // Redirects are not followed: an authenticated request goes to the configured endpoint only.
        const response = await fetch(config.url, { method: 'POST', headers, body: payload, redirect: 'manual', signal });
        await response.arrayBuffer();
        status = response.status;
      } catch (error) {
        throw new Error(`http sink ${config.name}: ${networkReason(error, config.timeoutMs)}`);
      }
      if (status >= 200 && status < 300) return;
      const summary = `http sink ${config.name}: HTTP ${status}`;
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) throw new BatchRejectedError(summary, status);
      throw new Error(summary);
    },
    close: () => Promise.resolve(),
  };
}

/** Names a network failure by its code only: fetch's messages and causes can carry the URL (and a token in it). */
function networkReason(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `no answer within ${timeoutMs} ms`;
  const cause = error instanceof Error ? error.cause : undefined;
  if (typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string') return cause.code;
  return 'network error';
}
