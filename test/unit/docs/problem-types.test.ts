/**
 * The README lists every problem type the HTTP API answers with (and its status) and every job
 * error type; the source's lists (PROBLEM_TYPES, JOB_ERROR_TYPES) are what the compiler lets the
 * code throw. Both ways: a type missing in the docs fails, and so does a documented one nobody uses.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConcurrentUpdateError,
  GatewayError,
  IdempotencyConflictError,
  ImageCacheEntryNotFoundError,
  InvalidJobStateError,
  JobNotFoundError,
  MalformedBodyError,
  PROBLEM_TYPES,
  UploadIncompleteError,
  ValidationError,
} from '../../../shared/domain/errors';
import { JOB_ERROR_TYPES } from '../../../shared/domain/job';

const README = readFileSync(join(__dirname, '../../../README.md'), 'utf8');

/** Rows `| \`slug\` | ... |` of the markdown table whose header's first cell is `header`. */
function tableRows(markdown: string, header: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^\\|\\s*${header}\\s*\\|`).test(l));
  expect(start, `README has a table headed "${header}"`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  }
  return rows;
}

const slug = (cell: string | undefined) => /^`([a-z-]+)`$/.exec(cell ?? '')?.[1];

describe('README: problem types and job error types', () => {
  it('lists every problem type the API answers with, with its status, and no other', () => {
    // Act
    const documented = Object.fromEntries(tableRows(README, 'type').map((r) => [slug(r[0]), Number(r[1])]));
    // Assess
    expect(documented).toEqual(PROBLEM_TYPES);
  });

  it('lists every job error type, and no other', () => {
    // Act
    const documented = tableRows(README, 'job error type').map((r) => slug(r[0]));
    // Assess
    expect([...documented].sort()).toEqual([...JOB_ERROR_TYPES].sort());
  });

  it("gives each of the family's errors the status its type has in the list", () => {
    // Prepare
    const errors: GatewayError[] = [
      new ValidationError('x'),
      new MalformedBodyError('x'),
      new JobNotFoundError('job-1'),
      new ImageCacheEntryNotFoundError('eu-west-1', 'vm'),
      new IdempotencyConflictError('k', 'job-1'),
      new InvalidJobStateError('job-1', 'running', 'cancel', ['failed']),
      new UploadIncompleteError('x'),
      new ConcurrentUpdateError('job-1'),
    ];
    // Act + Assess
    for (const e of errors)
      expect([e.type, e.status]).toEqual([e.type, PROBLEM_TYPES[e.type as keyof typeof PROBLEM_TYPES]]);
  });
});
