/**
 * One conversion, as `bench/images.ts` times it: bundled on its own (only shared/images inside), so
 * the process and its worker threads load what a release's `image convert` would. Prints the peak RSS.
 *   node convert-one.launch.cjs <input> <output> <target>     (BG_BENCH_WORKERS=n to force a worker count)
 */
import { isMainThread } from 'node:worker_threads';
import { convertImage, type ConvertTarget } from '../shared/images';

async function main(): Promise<void> {
  const [input, output, to] = process.argv.slice(2);
  if (!input || !output || !to) throw new Error('usage: convert-one <input> <output> <target>');
  const workers = process.env.BG_BENCH_WORKERS;
  await convertImage(input, output, to as ConvertTarget, workers ? { workers: Number(workers) } : {});
  // maxRSS is in KiB on Linux; it covers the worker threads too (one process)
  process.stdout.write(`peakRssMiB=${(process.resourceUsage().maxRSS / 1024).toFixed(1)}\n`);
  // Done: end the process now. Node's orderly teardown (freeing the V8 heap and the WebAssembly
  // reservations behind the aligned buffers, joining threads) took ~10 ms here, after the output
  // was complete. 'exit' handlers still run (the compile cache is written in one); stdout to a
  // file or pipe is written synchronously on Linux, so nothing printed is lost.
  process.exit(0);
}

// The bundle also runs as the conversion worker threads (shared/images/parallel.ts).
if (isMainThread) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
