import BetterSqlite3 from 'better-sqlite3';
import { join } from 'node:path';
import { SQLITE_FILENAME } from '../src/adapters/store/open-store.ts';
import { createSecretCipher, parseKeyring } from '../src/adapters/system/keyring.ts';
import { outboxContext } from '../src/core/notifications/outbox.ts';
import type { SecretCipher } from '../src/core/ports/system.ts';

/*
 * Reads codes from the dev outbox the way a person reads their mail: from the database the server
 * writes (a read-only SQLite connection beside the server's, WAL lets both run), decrypted with the
 * instance key. One indexed query and one AES-GCM decrypt per code: tens of microseconds.
 */

type Purpose = 'challenge_code' | 'enrollment_code';

interface Row {
  readonly id: string;
  readonly payload: string | null;
}

export class OutboxReader {
  private readonly database: BetterSqlite3.Database;
  private readonly newest: BetterSqlite3.Statement<[string, Purpose], Row>;
  private readonly cipher: SecretCipher;
  /** The last message id read per account, so that a stale code is never used twice. */
  private readonly seen = new Map<string, string>();

  constructor(dataDir: string, encryptionKey: string) {
    this.database = new BetterSqlite3(join(dataDir, SQLITE_FILENAME), { readonly: true, fileMustExist: true });
    // Backward along outbox_created: the newest message of an account is among the last few rows.
    this.newest = this.database.prepare<[string, Purpose], Row>(
      "SELECT id, payload_ciphertext AS payload FROM outbox WHERE account_id = ? AND purpose = ? AND channel = 'email' ORDER BY created_at DESC, rowid DESC LIMIT 1",
    );
    this.cipher = createSecretCipher(parseKeyring(encryptionKey));
  }

  /** The numeric code in the newest unread email of this purpose to the account; throws if there is none. */
  async latestCode(accountId: string, purpose: Purpose): Promise<string> {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const row = this.newest.get(accountId, purpose);
      if (row && row.payload && this.seen.get(accountId) !== row.id) {
        this.seen.set(accountId, row.id);
        const message = JSON.parse(this.cipher.decrypt(row.payload, outboxContext(row.id))) as { text?: unknown };
        const code = typeof message.text === 'string' ? /\b(\d{6,10})\b/.exec(message.text)?.[1] : undefined;
        if (!code) throw new Error(`outbox message ${row.id} carries no code`);
        return code;
      }
      // The step that queued the message committed before it answered, so this is a safety net only.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    throw new Error(`no new ${purpose} message for ${accountId}`);
  }

  close(): void {
    this.database.close();
  }
}
