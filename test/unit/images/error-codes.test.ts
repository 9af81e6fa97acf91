/**
 * Every BG_* code the library can throw is documented in shared/images/README.md ("Error codes"),
 * and every code documented there can be thrown. Codes are collected from the source's syntax
 * tree (string literals, so comments and messages that mention a code do not count).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '../../..');
const sharedDir = join(root, 'shared');
const readme = readFileSync(join(sharedDir, 'images/README.md'), 'utf8');
const CODE = /^BG_[A-Z0-9_]+$/;

interface SourceCodes {
  /** Codes in literals that construct or pass on an error, with the files they appear in. */
  thrown: Map<string, Set<string>>;
  /** The members of the ImageErrorCode union in errors.ts. */
  declared: Set<string>;
}

function collectSourceCodes(): SourceCodes {
  const thrown = new Map<string, Set<string>>();
  const declared = new Set<string>();
  // shared/schedules has an error family of its own (BG_SCHEDULE_*), checked by its own test.
  const files = readdirSync(sharedDir, { recursive: true, encoding: 'utf8' }).filter(
    (f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('schedules'),
  );
  for (const file of files) {
    const path = join(sharedDir, file);
    const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node, inUnion: boolean): void => {
      const isUnion = inUnion || (ts.isTypeAliasDeclaration(node) && node.name.text === 'ImageErrorCode');
      if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && CODE.test(node.text)) {
        const parent = node.parent;
        // isImageError(err, 'BG_...') tests for a code; it does not throw one
        const isCheck =
          ts.isCallExpression(parent) &&
          ts.isIdentifier(parent.expression) &&
          parent.expression.text === 'isImageError';
        if (isUnion) declared.add(node.text);
        else if (!isCheck) {
          const where = thrown.get(node.text) ?? new Set<string>();
          where.add(relative(root, path));
          thrown.set(node.text, where);
        }
      }
      ts.forEachChild(node, (child) => visit(child, isUnion));
    };
    visit(source, false);
  }
  return { thrown, declared };
}

/** The rows of the README's "Error codes" table: code → [meaning, what to do]. */
function documentedCodes(): Map<string, [string, string]> {
  const start = readme.indexOf('\n## Error codes\n');
  expect(start, 'shared/images/README.md has an "## Error codes" section').toBeGreaterThanOrEqual(0);
  const next = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, next < 0 ? undefined : next);
  const rows = new Map<string, [string, string]>();
  for (const line of section.split('\n')) {
    const m = /^\|\s*`(BG_[A-Z0-9_]+)`\s*\|(.*)\|(.*)\|\s*$/.exec(line);
    if (!m) continue;
    expect(rows.has(m[1]!), `${m[1]} is listed twice`).toBe(false);
    rows.set(m[1]!, [m[2]!.trim(), m[3]!.trim()]);
  }
  return rows;
}

describe('BG_* error codes', () => {
  const { thrown, declared } = collectSourceCodes();
  const documented = documentedCodes();

  it('finds the codes (the collection itself works)', () => {
    expect(thrown.size).toBeGreaterThan(50);
    expect(thrown.get('BG_IMAGE_TRUNCATED')).toBeDefined();
    expect(declared.has('BG_DELTA_TRAILING_DATA')).toBe(true);
  });

  it('every code the source throws is in the README table', () => {
    const missing = [...thrown.keys()]
      .filter((c) => !documented.has(c))
      .map((c) => `${c} (${[...thrown.get(c)!].join(', ')})`);
    expect(missing, 'thrown but not documented in shared/images/README.md "Error codes"').toEqual([]);
  });

  it('every code in the README table is thrown somewhere', () => {
    const neverThrown = [...documented.keys()].filter((c) => !thrown.has(c));
    expect(neverThrown, 'documented but never thrown').toEqual([]);
  });

  it('every code the README mentions anywhere is thrown somewhere', () => {
    const mentioned = new Set(readme.match(/BG_[A-Z0-9_]+/g) ?? []);
    const stale = [...mentioned].filter((c) => !thrown.has(c));
    expect(stale, 'mentioned in shared/images/README.md but never thrown').toEqual([]);
  });

  it('the ImageErrorCode union declares exactly the codes thrown', () => {
    expect([...declared].sort()).toEqual([...thrown.keys()].sort());
  });

  it('each documented code says what it means and what to do', () => {
    for (const [code, [meaning, action]] of documented) {
      expect(meaning.length, `${code}: what it means`).toBeGreaterThan(10);
      expect(action.length, `${code}: what to do`).toBeGreaterThan(10);
    }
  });
});
