import { readFileSync } from 'node:fs';
import type { AuditExportSinkConfig } from './config.ts';
import { createHttpSink } from './http-sink.ts';
import { createJsonlSink } from './jsonl-sink.ts';
import type { AuditExportSink } from './sink.ts';
import { createSyslogSink } from './syslog-sink.ts';

/** Latchkey's version as exported in CEF headers and OCSF metadata (from package.json). */
export const PRODUCT_VERSION: string = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Builds the configured sinks, in configuration order. */
export function createAuditExportSinks(configs: readonly AuditExportSinkConfig[], productVersion = PRODUCT_VERSION): AuditExportSink[] {
  return configs.map((config) => {
    switch (config.type) {
      case 'syslog':
        return createSyslogSink(config, productVersion);
      case 'jsonl':
        return createJsonlSink(config, productVersion);
      case 'http':
        return createHttpSink(config, productVersion);
    }
  });
}
