/** Stable method ids. Never renamed: they appear in policy documents and audit events. */
export const METHOD_IDS = ['email_code', 'sms_code', 'totp', 'recovery_code', 'security_questions', 'temporary_access_pass', 'webauthn'] as const;
export type MethodId = (typeof METHOD_IDS)[number];

/**
 * Strength classes policy refers to. Ordered strongest first; recovery offers methods in this order
 * (FAC-11: the strongest method first).
 */
export const STRENGTH_CLASSES = ['phishing_resistant', 'possession', 'possession_weak', 'knowledge'] as const;
export type StrengthClass = (typeof STRENGTH_CLASSES)[number];

/**
 * The channel a method's proof travels over. Two gates over one channel are one proof, not two
 * (FAC-3), so policy compares channels, not method ids.
 */
export const CHANNEL_KINDS = ['email', 'phone', 'authenticator_app', 'printed_codes', 'knowledge', 'security_key', 'issued_pass'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];
