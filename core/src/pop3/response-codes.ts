import type { Refusal } from '../mailstore/session-guard.js';

/**
 * The extended response codes Postern sends (RFC 2449 §8, RFC 3206), in brackets right after
 * "-ERR": [IN-USE] the maildrop is locked by another session; [AUTH] the credentials (or the TLS
 * rule) are the problem, retrying the same will not help; [SYS/TEMP] a passing problem on our side;
 * [SYS/PERM] a lasting one.
 */
export const RespCode = Object.freeze({
  IN_USE: 'IN-USE',
  AUTH: 'AUTH',
  SYS_TEMP: 'SYS/TEMP',
  SYS_PERM: 'SYS/PERM',
} as const);

export type RespCodeValue = (typeof RespCode)[keyof typeof RespCode];

/** The -ERR text (without "-ERR ") for a SessionGuard refusal. */
export function refusalText(refusal: Refusal): string {
  switch (refusal.code) {
    case 'PRIVACYREQUIRED':
    case 'AUTHENTICATIONFAILED':
      return `[${RespCode.AUTH}] ${refusal.text}`;
    case 'LIMIT':
    case 'UNAVAILABLE':
      return `[${RespCode.SYS_TEMP}] ${refusal.text}`;
  }
}
