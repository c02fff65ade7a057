/*
 * Timestamp columns, the same on both engines: epoch milliseconds in an INTEGER (SQLite) or BIGINT
 * (PostgreSQL) column. A BIGINT may reach us as a string, hence the Number().
 */

/** A timestamp column as a Date. */
export const toDate = (value: number | string): Date => new Date(Number(value));

/** A nullable timestamp column as a Date, or null. */
export const toDateOrNull = (value: number | string | null): Date | null => (value === null ? null : toDate(value));

/** A Date for a nullable timestamp column. */
export const msOrNull = (date: Date | null): number | null => (date === null ? null : date.getTime());
