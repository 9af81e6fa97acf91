import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

/** A job id: `job-` + 26 base32 chars (48-bit time, 80 random bits), sortable by creation time. */
export function newJobId(now: Date = new Date(), prefix = 'job'): string {
  let time = now.getTime();
  let head = '';
  for (let i = 0; i < 10; i++) {
    head = ALPHABET[time % 32] + head;
    time = Math.floor(time / 32);
  }
  const rand = randomBytes(16);
  let tail = '';
  for (let i = 0; i < 16; i++) tail += ALPHABET[(rand[i] ?? 0) % 32];
  return `${prefix}-${head}${tail}`;
}

/** A schedule id: `sch-` + 26 base32 chars, as job ids. */
export const newScheduleId = (now: Date = new Date()): string => newJobId(now, 'sch');
