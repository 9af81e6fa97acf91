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
