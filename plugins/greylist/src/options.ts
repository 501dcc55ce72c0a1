export interface GreylistOptions {
  /** A retry sooner than this (seconds after first sight) is still refused. */
  ignoreResendSec: number;
  /** A triplet not retried within this (hours after first sight) is forgotten. */
  waitForResendHours: number;
  /** A passed triplet passes without delay for this long (days), refreshed on each use. */
  passedDays: number;
  /** Skip greylisting when the spf plugin recorded `{ result: 'pass' }` for the sender. */
  skipSpfPass: boolean;
}

export const defaults: GreylistOptions = {
  ignoreResendSec: 300,
  waitForResendHours: 24,
  passedDays: 36,
  skipSpfPass: true,
};

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** "key: reason" errors for every bad option. */
export function validate(options: GreylistOptions): string[] {
  const errors: string[] = [];
  const { ignoreResendSec, waitForResendHours, passedDays, skipSpfPass } = options;
  if (!isNumber(ignoreResendSec) || ignoreResendSec < 0) errors.push('ignoreResendSec: must be a number >= 0');
  if (!isNumber(waitForResendHours) || waitForResendHours <= 0) errors.push('waitForResendHours: must be a number > 0');
  if (!isNumber(passedDays) || passedDays <= 0) errors.push('passedDays: must be a number > 0');
  if (typeof skipSpfPass !== 'boolean') errors.push('skipSpfPass: must be true or false');
  // Otherwise no retry could ever pass: the triplet would be forgotten before it may be retried.
  if (isNumber(ignoreResendSec) && isNumber(waitForResendHours) && ignoreResendSec >= waitForResendHours * 3600) {
    errors.push('ignoreResendSec: must be shorter than waitForResendHours');
  }
  return errors;
}
