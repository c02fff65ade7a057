import type { FlowId } from '../account/ids.ts';
import { asFlowId } from '../account/ids.ts';
import type { Random, SecretHasher } from '../ports/system.ts';

/**
 * A flow token is `<flow id>.<secret>`. Only the secret's keyed hash is stored, and the secret is
 * replaced after every passed gate (SESS-3), so neither the flow id nor an old token continues a flow.
 */
export interface FlowTokenParts {
  readonly flowId: FlowId;
  readonly secret: string;
}

const TOKEN_PATTERN = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/;

export function newFlowSecret(random: Random): string {
  return random.bytes(32).toString('base64url');
}

export const flowSecretHash = (secrets: SecretHasher, secret: string): string => secrets.mac('flow_token', secret);

export const formatFlowToken = (flowId: FlowId, secret: string): string => `${flowId}.${secret}`;

export function parseFlowToken(token: string): FlowTokenParts | null {
  const match = TOKEN_PATTERN.exec(token);
  if (!match || !match[1] || !match[2]) return null;
  return { flowId: asFlowId(match[1]), secret: match[2] };
}
