/**
 * Inflating one compressed VMDK grain into the caller's buffer, with zlib's public API: one
 * `inflateSync` per grain, its output in a single piece (no concatenation), then copied.
 *
 * This module used to reuse one zlib stream per thread through the stream's internal native
 * handle (`_handle.writeSync`, as Node's own sync path drives it), inflating straight into the
 * caller's buffer. The built CLI, VMDK-stream → VHD-fixed, medians of 7 interleaved runs: 1.13×
 * on 1 GiB random (1.55 s against 1.75 s with `inflateSync`), 1.27× on 2 GiB sparse (0.33 s
 * against 0.42 s); `npm run bench:images` runs apart gave 1.17× and 1.25×. Under the 1.3× an
 * internal API has to show to be kept (README.md, "I/O policy").
 */
import { inflateSync } from 'node:zlib';

/**
 * Inflates one zlib stream (`zdata`, trailing bytes after its end ignored, as `inflateSync` does)
 * into `out` and returns the inflated length. Throws zlib's error for corrupt or truncated data,
 * and when the data inflates to more than `out.length` bytes.
 */
export function inflateGrainInto(zdata: Uint8Array, out: Buffer): number {
  // chunkSize above the largest accepted output: one output buffer, never a concatenation
  const data = inflateSync(zdata, { maxOutputLength: out.length, chunkSize: out.length + 1024 });
  data.copy(out);
  return data.length;
}
