import { ImageError } from './errors';

export type ManifestAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

export interface ManifestEntry {
  algorithm: ManifestAlgorithm;
  file: string;
  /** Lowercase hex. */
  digest: string;
}

const DIGEST_HEX_LENGTH: Record<ManifestAlgorithm, number> = { SHA1: 40, SHA256: 64, SHA512: 128 };

/** Node's crypto name for a manifest algorithm. */
export function nodeHashName(a: ManifestAlgorithm): 'sha1' | 'sha256' | 'sha512' {
  return a === 'SHA1' ? 'sha1' : a === 'SHA256' ? 'sha256' : 'sha512';
}

/**
 * Parses an OVF manifest (.mf). Accepts both "SHA256(name)= hex" (VirtualBox, COT) and
 * "SHA1 (name) = hex" (ovftool) forms; blank lines are ignored. Anything else is
 * BG_OVA_MANIFEST_INVALID naming the line.
 */
export function parseManifest(text: string): ManifestEntry[] {
  const out: ManifestEntry[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const m = /^\s*(SHA1|SHA256|SHA512)\s*\((.+)\)\s*=\s*([0-9A-Fa-f]+)\s*$/i.exec(line);
    if (!m) {
      throw new ImageError(
        'BG_OVA_MANIFEST_INVALID',
        `manifest line ${i + 1} is not "ALGORITHM(file)= hex": ${JSON.stringify(line.slice(0, 120))}; regenerate the manifest (e.g. with ovftool) or remove it`,
      );
    }
    const algorithm = m[1]!.toUpperCase() as ManifestAlgorithm;
    const digest = m[3]!.toLowerCase();
    if (digest.length !== DIGEST_HEX_LENGTH[algorithm]) {
      throw new ImageError(
        'BG_OVA_MANIFEST_INVALID',
        `manifest line ${i + 1}: a ${algorithm} digest has ${DIGEST_HEX_LENGTH[algorithm]} hex digits, this one has ${digest.length} (file "${m[2]}")`,
      );
    }
    out.push({ algorithm, file: m[2]!.trim(), digest });
  });
  return out;
}

/** Formats entries in the "SHA256(name)= hex" form, one per line, with a trailing newline. */
export function formatManifest(entries: ManifestEntry[]): string {
  return entries.map((e) => `${e.algorithm}(${e.file})= ${e.digest.toLowerCase()}\n`).join('');
}

export interface ManifestVerification {
  /** Files whose every listed digest matched. */
  verified: string[];
  /** Files the manifest lists that are not there, in manifest order. */
  missing: string[];
  /** Listed digests that do not match, in manifest order. */
  mismatched: Array<{ file: string; algorithm: ManifestAlgorithm; expected: string; actual: string }>;
  /** Listed digests that could not be checked (the file was not hashed with that algorithm). */
  unverifiable: Array<{ file: string; algorithm: ManifestAlgorithm }>;
}

/**
 * Checks every manifest entry against the digests computed for the files (`digestsOf(file)` returns
 * undefined for a file that is not there). Never stops at the first problem: the result names every
 * missing and every mismatched file.
 */
export function verifyManifest(
  entries: ManifestEntry[],
  digestsOf: (file: string) => Partial<Record<ManifestAlgorithm, string>> | undefined,
): ManifestVerification {
  const out: ManifestVerification = { verified: [], missing: [], mismatched: [], unverifiable: [] };
  const bad = new Set<string>();
  const seen = new Set<string>();
  for (const e of entries) {
    const have = digestsOf(e.file);
    if (have === undefined) {
      if (!out.missing.includes(e.file)) out.missing.push(e.file);
      bad.add(e.file);
      continue;
    }
    const actual = have[e.algorithm];
    if (actual === undefined) {
      out.unverifiable.push({ file: e.file, algorithm: e.algorithm });
      bad.add(e.file);
    } else if (actual.toLowerCase() !== e.digest.toLowerCase()) {
      out.mismatched.push({ file: e.file, algorithm: e.algorithm, expected: e.digest, actual });
      bad.add(e.file);
    }
    seen.add(e.file);
  }
  out.verified = [...seen].filter((f) => !bad.has(f));
  return out;
}

/** The failure of a manifest check; `verification` lists every missing and mismatched file. */
export class ManifestVerificationError extends ImageError {
  constructor(
    readonly manifestName: string,
    readonly verification: ManifestVerification,
  ) {
    const v = verification;
    const parts: string[] = [];
    if (v.mismatched.length > 0) {
      parts.push(
        `${v.mismatched.length} file(s) do not match: ${v.mismatched
          .map((m) => `"${m.file}" (${m.algorithm} is ${m.actual}, the manifest says ${m.expected})`)
          .join(', ')} — the files were changed or damaged in transit; transfer the OVA again`,
      );
    }
    if (v.missing.length > 0) {
      parts.push(
        `${v.missing.length} listed file(s) are not in the archive: ${v.missing.map((f) => `"${f}"`).join(', ')} — the OVA is incomplete; re-export it, or remove those lines from the manifest`,
      );
    }
    if (v.unverifiable.length > 0) {
      parts.push(
        `${v.unverifiable.length} digest(s) could not be checked: ${v.unverifiable
          .map((u) => `${u.algorithm} of "${u.file}"`)
          .join(
            ', ',
          )} (the file came before the manifest and was not hashed with that algorithm; pass hashAlgorithms including it)`,
      );
    }
    super(
      v.mismatched.length > 0
        ? 'BG_OVA_MANIFEST_MISMATCH'
        : v.missing.length > 0
          ? 'BG_OVA_MANIFEST_MISSING_FILE'
          : 'BG_OVA_MANIFEST_UNVERIFIABLE',
      `OVA manifest "${manifestName}": ${parts.join('; ')}`,
    );
  }
}

/** Throws ManifestVerificationError unless every entry verified. */
export function assertManifestVerified(manifestName: string, v: ManifestVerification): void {
  if (v.missing.length > 0 || v.mismatched.length > 0 || v.unverifiable.length > 0) {
    throw new ManifestVerificationError(manifestName, v);
  }
}
