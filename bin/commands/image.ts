/** `burstgate image info|convert|verify`: the disk-image engine (shared/images) on local files. */
import { formatBytes, type ProgressBar } from '../../shared/client/progress';
import {
  WRITERS,
  convertImage,
  describeImage,
  type ConvertTarget,
  type ImageSummary,
} from '../../shared/images/convert';
import { isImageError } from '../../shared/images/errors';
import { HELP_OPTION, onePositional, parse } from '../support/args';
import { printUsage, type Command } from '../support/command';
import { CliError, UsageError } from '../support/errors';
import type { Output } from '../support/output';

export const command: Command = {
  usage: `Usage: burstgate image info <file> [--hash] [--json]
       burstgate image convert <in> <out> --to FORMAT [--azure]
       burstgate image verify <ova> [--json]

  info      format, virtual size, allocated bytes, partition table; the disk content SHA-256
            with --hash (the same for one disk in any format); the OVF profile of an OVA
  convert   FORMAT: ${Object.keys(WRITERS).join(', ')}; --azure rounds a fixed VHD up to whole MiB
  verify    checks an OVA: descriptor first, manifest digests, every disk readable to its end`,

  async run(args, o) {
    const { values, positionals } = parse('image', args, {
      hash: { type: 'boolean' },
      json: { type: 'boolean' },
      to: { type: 'string' },
      azure: { type: 'boolean' },
      ...HELP_OPTION,
    });
    if (values.help) return printUsage(o, command);
    const [action, ...files] = positionals;
    const show = (summary: ImageSummary, extra: Record<string, unknown> = {}): void =>
      showSummary(o, values.json === true, summary, extra);
    try {
      if (action === 'info') {
        const file = onePositional('image', files, 'the image file (burstgate image info <file>)');
        const p = lazyBar(o, 'read');
        const summary = await describeImage(file, { hash: values.hash ?? false, onProgress: p.onProgress });
        p.finish();
        show(summary);
        return 0;
      }
      if (action === 'convert') {
        if (files.length !== 2) throw new UsageError('image', 'convert needs <in> <out>');
        const to = values.to;
        if (!to || !(to in WRITERS)) {
          throw new UsageError('image', `--to must be one of ${Object.keys(WRITERS).join(', ')}`);
        }
        const p = lazyBar(o, 'convert');
        const result = await convertImage(files[0]!, files[1]!, to as ConvertTarget, {
          azure: values.azure ?? false,
          onProgress: p.onProgress,
        });
        p.finish();
        show(result, { output: files[1], 'output size': formatBytes(result.outputBytes) });
        return 0;
      }
      if (action === 'verify') {
        const file = onePositional('image', files, 'the OVA (burstgate image verify <ova>)');
        const summary = await describeImage(file, { hash: true });
        if (summary.format !== 'ova') throw new CliError(`${file} is ${summary.format}, not an OVA`);
        show(summary);
        o.out('OK: the OVA verifies');
        return 0;
      }
    } catch (e) {
      if (isImageError(e)) throw new CliError(`${e.code}: ${e.message}`);
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new CliError(`no such file: ${(e as NodeJS.ErrnoException).path ?? files[0]}`);
      }
      throw e;
    }
    throw new UsageError('image', 'the action must be info, convert or verify');
  },
};

/** A progress bar drawn from the first progress report on (a quick job draws none). */
function lazyBar(o: Output, label: string) {
  let bar: ProgressBar | undefined;
  return {
    onProgress: (done: number, total: number): void => {
      bar ??= o.bar(label, total);
      bar.update(done, total);
    },
    finish: (): void => bar?.finish(),
  };
}

function showSummary(o: Output, json: boolean, summary: ImageSummary, extra: Record<string, unknown>): void {
  if (json) return o.out(JSON.stringify({ ...summary, ...extra }, null, 2));
  o.out(`format          ${summary.format}`);
  o.out(`file size       ${formatBytes(summary.fileBytes)} (${summary.fileBytes} bytes)`);
  o.out(`virtual size    ${formatBytes(summary.capacity)} (${summary.capacity} bytes)`);
  o.out(`${summary.sha256 ? 'data bytes   ' : 'allocated    '}   ${formatBytes(summary.dataBytes)}`);
  o.out(`partitions      ${summary.partitionTable}`);
  if (summary.sha256) o.out(`content sha256  ${summary.sha256}`);
  if (summary.ova) {
    const h = summary.ova.hardware;
    o.out(`vm              ${h.vmName}: ${h.vcpus} vCPU, ${h.memoryMiB} MiB, ${h.firmware}`);
    o.out(
      `nics            ${h.nics.map((n) => `${n.name}${n.network ? ` (${n.network})` : ''}`).join(', ') || 'none'}`,
    );
    const m = summary.ova.manifest;
    o.out(`manifest        ${m ? `${m.name}: ${m.verified.length} file(s) verified` : 'none'}`);
  }
  for (const [k, v] of Object.entries(extra)) o.out(`${k.padEnd(15)} ${String(v)}`);
}
