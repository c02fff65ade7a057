import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import type { AuditRecord } from '../../core/audit/events.ts';
import { toExportedRecord } from '../../core/audit/formats/json.ts';
import { toOcsf } from '../../core/audit/formats/ocsf.ts';
import type { JsonlSinkConfig } from './config.ts';
import type { AuditExportSink } from './sink.ts';

/**
 * The JSON Lines sink: one event per line (its `id` is the idempotency key; in OCSF,
 * `metadata.uid`), appended to `path`, rotated by size to `path.1` … `path.<keep>`.
 *
 * A batch is acknowledged only after fsync, so what the cursor counts is on disk. A crash during a
 * write can leave a partial last line; it was never acknowledged, so the batch is written again,
 * and on opening the file the partial line is cut off first: a reader never sees half an event.
 */
export function createJsonlSink(config: JsonlSinkConfig, productVersion: string): AuditExportSink {
  let handle: FileHandle | null = null;
  let size = 0;

  const line = (record: AuditRecord): string => `${JSON.stringify(config.format === 'ocsf' ? toOcsf(record, productVersion) : toExportedRecord(record))}\n`;

  const openFile = async (): Promise<FileHandle> => {
    if (handle) return handle;
    const file = await open(config.path, 'a+');
    try {
      const { size: current } = await file.stat();
      size = current;
      if (current > 0) size = await dropPartialLine(file, current);
    } catch (error) {
      await file.close();
      throw error;
    }
    handle = file;
    return file;
  };

  const rotate = async (): Promise<void> => {
    await handle?.close();
    handle = null;
    if (config.keep === 0) {
      await rm(config.path, { force: true });
      return;
    }
    await rm(`${config.path}.${config.keep}`, { force: true });
    for (let index = config.keep - 1; index >= 1; index -= 1) {
      await rename(`${config.path}.${index}`, `${config.path}.${index + 1}`).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)));
    }
    await rename(config.path, `${config.path}.1`);
  };

  return {
    name: config.name,
    kind: 'jsonl',
    async deliver(records) {
      if (records.length === 0) return;
      const text = records.map(line).join('');
      const bytes = Buffer.byteLength(text);
      let file = await openFile();
      if (size > 0 && size + bytes > config.maxBytes) {
        await rotate();
        file = await openFile();
      }
      try {
        await file.write(text);
        await file.sync();
        size += bytes;
      } catch (error) {
        // The file may now end in a partial line: reopen (and trim) before the retry.
        await file.close().catch(() => undefined);
        handle = null;
        throw error;
      }
    },
    async close() {
      await handle?.close();
      handle = null;
    },
  };
}

/** Cuts a trailing partial line (no final newline) and returns the new size. */
async function dropPartialLine(file: FileHandle, size: number): Promise<number> {
  const window = Buffer.alloc(Math.min(size, 64 * 1024));
  let end = size;
  for (;;) {
    const start = Math.max(0, end - window.length);
    const { bytesRead } = await file.read(window, 0, end - start, start);
    const chunk = window.subarray(0, bytesRead);
    if (end === size && chunk[chunk.length - 1] === 0x0a) return size;
    const newline = chunk.lastIndexOf(0x0a);
    if (newline >= 0) {
      const keep = start + newline + 1;
      await file.truncate(keep);
      await file.sync();
      return keep;
    }
    if (start === 0) {
      await file.truncate(0);
      await file.sync();
      return 0;
    }
    end = start;
  }
}
