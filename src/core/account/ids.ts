/** Nominal typing for identifiers, so an account id can never be passed where a flow id is expected. */
export type Brand<T, B extends string> = T & { readonly __brand: B };

/** `<backend>:<immutable id>`, e.g. `builtin:6f1c…`; never a username, which can be renamed. */
export type AccountId = Brand<string, 'AccountId'>;
export type EnrollmentId = Brand<string, 'EnrollmentId'>;
export type FlowId = Brand<string, 'FlowId'>;
export type ChallengeId = Brand<string, 'ChallengeId'>;
export type SessionId = Brand<string, 'SessionId'>;

export const asAccountId = (value: string): AccountId => value as AccountId;
export const asEnrollmentId = (value: string): EnrollmentId => value as EnrollmentId;
export const asFlowId = (value: string): FlowId => value as FlowId;
export const asChallengeId = (value: string): ChallengeId => value as ChallengeId;
export const asSessionId = (value: string): SessionId => value as SessionId;
