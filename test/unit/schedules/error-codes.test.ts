/**
 * Every BG_SCHEDULE_* code shared/schedules can throw is in its README's "Error codes" table and in
 * the ScheduleErrorCode union, and every code listed there is thrown. Codes are collected from the
 * source's syntax tree (string literals, so comments and messages that mention a code do not count).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const dir = join(__dirname, '../../../shared/schedules');
const readme = readFileSync(join(dir, 'README.md'), 'utf8');
const CODE = /^BG_SCHEDULE_[A-Z0-9_]+$/;

function sourceCodes(): { thrown: Set<string>; declared: Set<string> } {
  const thrown = new Set<string>();
  const declared = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const path = join(dir, file);
    const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node, inUnion: boolean): void => {
      const isUnion = inUnion || (ts.isTypeAliasDeclaration(node) && node.name.text === 'ScheduleErrorCode');
      if (ts.isStringLiteral(node) && CODE.test(node.text)) (isUnion ? declared : thrown).add(node.text);
      ts.forEachChild(node, (child) => visit(child, isUnion));
    };
    visit(source, false);
  }
  return { thrown, declared };
}

function documentedCodes(): Map<string, string> {
  const start = readme.indexOf('\n## Error codes\n');
  expect(start, 'shared/schedules/README.md has an "## Error codes" section').toBeGreaterThanOrEqual(0);
  const rows = new Map<string, string>();
  for (const line of readme.slice(start).split('\n')) {
    const m = /^\|\s*`(BG_SCHEDULE_[A-Z0-9_]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (m) rows.set(m[1]!, m[2]!.trim());
  }
  return rows;
}

describe('BG_SCHEDULE_* error codes', () => {
  it('the README table, the ScheduleErrorCode union and the codes thrown are the same', () => {
    // Prepare
    const { thrown, declared } = sourceCodes();
    // Act
    const documented = documentedCodes();
    // Assess
    expect(thrown.size).toBeGreaterThanOrEqual(10);
    expect([...documented.keys()].sort()).toEqual([...thrown].sort());
    expect([...declared].sort()).toEqual([...thrown].sort());
  });

  it('each documented code says when it is thrown', () => {
    // Act + Assess
    for (const [code, when] of documentedCodes()) expect(when.length, code).toBeGreaterThan(30);
  });
});
