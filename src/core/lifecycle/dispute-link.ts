import type { Random, SecretHasher } from '../ports/system.ts';

/*
 * The "this wasn't me" link of a method-change notice. The token is 256 random bits (TOK-1); only
 * its keyed hash is stored (TOK-8), so a database reader cannot follow a link, and it is consumed by
 * one conditional update (TOK-5).
 */

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export const newDisputeToken = (random: Random): string => random.bytes(32).toString('base64url');

export const disputeTokenHash = (secrets: SecretHasher, token: string): string => secrets.mac('method_change_dispute', token);

/** Whether a string can be a dispute token at all (checked before any lookup). */
export const isDisputeToken = (value: string): boolean => TOKEN_PATTERN.test(value);

/** The path of the link's landing page; the server adds its public origin. */
export const disputePath = (token: string): string => `/this-wasnt-me/${token}`;
