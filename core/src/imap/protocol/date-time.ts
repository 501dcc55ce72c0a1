import { bad } from './protocol-error.js';

/** IMAP dates (RFC 3501 9: date, date-time). */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function month(name: string): number {
  const index = MONTHS.findIndex((m) => m.toLowerCase() === name.toLowerCase());
  if (index < 0) throw bad('Bad month in date');
  return index;
}

function validDay(year: number, monthIndex: number, day: number): boolean {
  return day >= 1 && day <= new Date(Date.UTC(year, monthIndex + 1, 0)).getUTCDate();
}

/** date-time: "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be space-padded) → Unix ms. */
export function parseDateTime(text: string): number {
  const m = /^([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  if (!m) throw bad('Bad date-time');
  const day = Number(m[1]!.trim());
  const mon = month(m[2]!);
  const year = Number(m[3]);
  const [hh, mm, ss, zh, zm] = [m[4], m[5], m[6], m[8], m[9]].map(Number) as [number, number, number, number, number];
  if (!validDay(year, mon, day) || hh > 23 || mm > 59 || ss > 60 || zm > 59) throw bad('Bad date-time');
  const offset = (m[7] === '-' ? -1 : 1) * (zh * 60 + zm);
  return Date.UTC(year, mon, day, hh, mm, ss) - offset * 60_000;
}

/** date (SEARCH): "d-Mon-yyyy" → "YYYY-MM-DD". */
export function parseSearchDate(text: string): string {
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
  if (!m) throw bad('Bad date');
  const day = Number(m[1]);
  const mon = month(m[2]!);
  const year = Number(m[3]);
  if (!validDay(year, mon, day)) throw bad('Bad date');
  return `${m[3]}-${String(mon + 1).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/**
 * INTERNALDATE: `"dd-Mon-yyyy hh:mm:ss +zzzz"` with the quotes, in the server's time zone (the
 * zone SEARCH BEFORE/ON/SINCE compare days in).
 */
export function formatInternalDate(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  const offset = -d.getTimezoneOffset();
  const zone = `${offset < 0 ? '-' : '+'}${two(Math.floor(Math.abs(offset) / 60))}${two(Math.abs(offset) % 60)}`;
  return `"${two(d.getDate())}-${MONTHS[d.getMonth()]}-${d.getFullYear()} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${zone}"`;
}
