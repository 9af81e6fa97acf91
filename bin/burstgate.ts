#!/usr/bin/env -S npx tsx
/**
 * burstgate — the one CLI: the embedded gateway (`up`, `demo`) and the on-prem client
 * (`offload`, `status`, `list`, `return`, `cancel`). Thin: argument parsing and output here,
 * the work in shared/client and infra/local.
 *
 * Exit codes: 0 done, 1 failed (a one-line reason on stderr), 2 usage error, 130 interrupted.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { JOB_STATES, type JobState } from '../shared/domain/job';
import { GatewayClient } from '../shared/client/api-client';
import { ClientConfigError, DEFAULT_STATE_DIR, resolveGateway } from '../shared/client/config';
import { GatewayClientError } from '../shared/client/errors';
import { followJob } from '../shared/client/follow';
import {
  IMAGE_FORMATS,
  ImageFileError,
  checkImageFile,
  formatFromExtension,
  vmNameFromPath,
} from '../shared/client/image-file';
import { ProgressBar, formatBytes, type ProgressStream } from '../shared/client/progress';
import {
  errorLines,
  formatDuration,
  renderJob,
  renderJobTable,
  stepLine,
  targetText,
} from '../shared/client/render';
import {
  RETURN_OUTPUT_FORMATS,
  checkBase,
  checkDownload,
  fetchReturnedImage,
  measureBase,
  outputFormatFor,
  type FetchedReturnedImage,
  type MeasuredBase,
  type ReturnOutputFormat,
} from '../shared/client/returned-image';
import { prepareIncrementalUpload, type IncrementalUpload } from '../shared/client/incremental';
import { sha256File } from '../shared/client/sha256';
import type {
  ClientJobView,
  CloudName,
  ImageFormatName,
  JobDownload,
  JobTarget,
  JobView,
} from '../shared/client/types';
import { uploadImage } from '../shared/client/upload';
import { WRITERS, type ConvertTarget, type ImageSummary } from '../shared/images/convert';
import { isImageError } from '../shared/images/errors';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------------------------------------
// errors and output

/** Wrong arguments: exit 2 and point at --help. */
class UsageError extends Error {
  constructor(
    readonly command: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** An expected failure: exit 1 with a one-line reason and an optional hint. */
class CliError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** The job ended somewhere else than hoped (failed, return-failed...): exit 1, already reported. */
class JobOutcome extends Error {}

/** Where output goes: the process's streams, or a test's buffers. */
export interface Io {
  stdout: ProgressStream;
  stderr: ProgressStream;
  env: NodeJS.ProcessEnv;
}

class Output {
  constructor(readonly io: Io) {}
  readonly out = (line = ''): void => void this.io.stdout.write(`${line}\n`);
  readonly err = (line: string): void => void this.io.stderr.write(`${line}\n`);
  bar(label: string, total: number): ProgressBar {
    return new ProgressBar({ label, total, stream: this.io.stderr });
  }
}

const clock = (): string => new Date().toISOString().slice(11, 19);

// ---------------------------------------------------------------------------------------------
// shared options

const GATEWAY_OPTIONS = {
  gateway: { type: 'string' },
  'api-key': { type: 'string' },
  'state-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const GATEWAY_HELP = `
Gateway:
  --gateway URL       the gateway's API URL (default: $BURSTGATE_GATEWAY, else <state-dir>/api-url)
  --api-key KEY       API key (default: $BURSTGATE_API_KEY, else <state-dir>/api-key)
  --state-dir DIR     the embedded deployment's state directory (default ${DEFAULT_STATE_DIR})`;

function parse<O extends NonNullable<ParseArgsConfig['options']>>(
  command: string,
  args: string[],
  options: O,
) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(command, (e as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
}

async function clientFrom(o: Output, values: { gateway?: string; 'api-key'?: string; 'state-dir'?: string }) {
  const settings = await resolveGateway({
    gateway: values.gateway,
    apiKey: values['api-key'],
    stateDir: values['state-dir'],
    env: o.io.env,
  });
  return new GatewayClient({ baseUrl: settings.baseUrl, apiKey: settings.apiKey });
}

function onePositional(command: string, positionals: string[], what: string): string {
  if (positionals.length === 0) throw new UsageError(command, `missing ${what}`);
  if (positionals.length > 1) throw new UsageError(command, `unexpected argument '${positionals[1]}'`);
  return positionals[0]!;
}

function positiveInt(command: string, flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(command, `--${flag} must be a positive integer, not '${value}'`);
  return n;
}

function intervalMs(command: string, value: string | undefined): number {
  if (value === undefined) return 2000;
  const s = Number(value);
  if (!Number.isFinite(s) || s <= 0)
    throw new UsageError(command, `--interval must be a number of seconds, not '${value}'`);
  return Math.round(s * 1000);
}

/** Ctrl-C: abort what is under way, and say what state things are left in. */
function interruptible(o: Output, onInterrupt: () => string): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const handler = (): void => {
    if (ac.signal.aborted) process.exit(130);
    o.err(`\n${onInterrupt()}`);
    ac.abort(new CliError('interrupted'));
  };
  process.on('SIGINT', handler);
  return { signal: ac.signal, dispose: () => process.off('SIGINT', handler) };
}

/** Prints state changes and finished steps as a job moves. */
function jobPrinter(o: Output): (job: JobView, prev: JobView | undefined) => void {
  return (job, prev) => {
    const seen = prev?.steps.length ?? job.steps.length;
    for (const s of job.steps.slice(seen)) o.out(`${clock()}    ${stepLine(s)}`);
    if (job.state !== prev?.state) {
      o.out(`${clock()}  ${job.state}${job.activeStep ? ` (${job.activeStep.name})` : ''}`);
    }
  };
}

// ---------------------------------------------------------------------------------------------
// commands

interface Command {
  summary: string;
  usage: string;
  run(args: string[], o: Output): Promise<number>;
}

const commands: Record<string, Command> = {
  up: {
    summary: 'start the embedded gateway on 127.0.0.1 (no cloud account needed)',
    usage: `Usage: burstgate up [--state-dir DIR] [--port N]

Starts the embedded deployment (same handlers and state machines, local services) and keeps
running until Ctrl-C. Writes the API URL and a local API key to <state-dir>/api-url and
<state-dir>/api-key, where the other commands find them.

  --state-dir DIR   state directory (default ${DEFAULT_STATE_DIR})
  --port N          API port (default: the embedded deployment's choice)`,
    async run(args, o) {
      const { values, positionals } = parse('up', args, {
        'state-dir': { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      });
      if (values.help) return help(o, 'up');
      if (positionals.length) throw new UsageError('up', `unexpected argument '${positionals[0]}'`);
      let port: number | undefined;
      if (values.port !== undefined) {
        port = Number(values.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) {
          throw new UsageError('up', `--port must be a port number (0-65535), not '${values.port}'`);
        }
      }
      const { runUp } = await import('../infra/local/cli-up');
      await runUp({
        stateDir: values['state-dir'] ?? DEFAULT_STATE_DIR,
        ...(port !== undefined ? { port } : {}),
      });
      return 0;
    },
  },

  demo: {
    summary: 'offload the sample VM to simulated AWS and bring it back (what `npm start` runs)',
    usage: `Usage: burstgate demo

Starts the embedded deployment in a temporary directory, offloads the sample VM in
test/fixtures/sample-vm/ through the HTTP API, returns it, and checks it came back bit-identical.`,
    async run(args, o) {
      const { values, positionals } = parse('demo', args, { help: { type: 'boolean', short: 'h' } });
      if (values.help) return help(o, 'demo');
      if (positionals.length) throw new UsageError('demo', `unexpected argument '${positionals[0]}'`);
      const { runDemo } = await import('../infra/local/demo');
      const result = await runDemo();
      return result.ok ? 0 : 1;
    },
  },

  offload: {
    summary: 'upload a VM image and run it in the cloud',
    usage: `Usage: burstgate offload <image> [--cloud aws|azure] [options]

Creates an offload job, uploads the image (multipart, with progress), completes the upload and
follows the job until it is running (or failed).

  <image>                 .ova, .vmdk (streamOptimized), .vhd (fixed or dynamic), .vhdx, or raw (.img/.raw)
  --cloud aws|azure       target cloud (default aws; --to CLOUD is the older spelling)
  --name NAME             VM name (default: the file name)
  --format F              image format if the extension does not say: ${IMAGE_FORMATS.join(', ')}
  --callback-url URL      the gateway calls it on every state change
  --concurrency N         parts uploaded at once (default 4)
  --no-hash               do not send the file's SHA-256 (saves reading the file twice)
  --no-follow             return once the upload is complete
  --interval S            seconds between status polls (default 2)

AWS (--cloud aws):
  --region R              target region (default us-east-1)
  --instance-type T       EC2 instance type (default t3.medium)
  --mode direct|import    direct: EBS direct APIs (blocks into a snapshot, an AMI; comes back as
                          the changed blocks); import: VM Import (comes back as an OVA). Default:
                          the gateway decides from the guest OS in the OVF (README)
  --incremental           upload only the 512 KiB blocks that differ from the VM's image the
                          gateway cached at its last direct offload (same --name and --region):
                          the blocks are hashed here against the cached block manifest and sent as
                          a delta. Implies --mode direct; without a cached image the whole image
                          goes (and becomes the cached one)

Azure (--cloud azure):
  --location L            Azure region, e.g. westeurope (required)
  --vm-size S             VM size, e.g. Standard_D2s_v3 (required)
  --resource-group G      resource group for the job's resources (default: the gateway's)

Keep the image: an Azure VM comes back as a delta (what changed), which \`burstgate return
--base <image>\` applies to it.
${GATEWAY_HELP}`,
    async run(args, o) {
      const { out, err } = o;
      const { values, positionals } = parse('offload', args, {
        ...GATEWAY_OPTIONS,
        cloud: { type: 'string' },
        to: { type: 'string' },
        region: { type: 'string' },
        'instance-type': { type: 'string' },
        mode: { type: 'string' },
        incremental: { type: 'boolean' },
        location: { type: 'string' },
        'vm-size': { type: 'string' },
        'resource-group': { type: 'string' },
        name: { type: 'string' },
        format: { type: 'string' },
        'callback-url': { type: 'string' },
        concurrency: { type: 'string' },
        'no-hash': { type: 'boolean' },
        'no-follow': { type: 'boolean' },
        interval: { type: 'string' },
      });
      if (values.help) return help(o, 'offload');
      const imageArg = onePositional(
        'offload',
        positionals,
        'the image file (burstgate offload <image> --cloud aws|azure)',
      );
      let target = offloadTarget(values);
      if (values.incremental) {
        if (target.cloud !== 'aws' || target.mode === 'import') {
          throw new UsageError(
            'offload',
            '--incremental puts changed blocks on top of the cached EBS snapshot: it needs --cloud aws and --mode direct (or no --mode)',
          );
        }
        target = { ...target, mode: 'direct' };
      }
      let format: ImageFormatName | undefined;
      if (values.format !== undefined) {
        if (!(IMAGE_FORMATS as readonly string[]).includes(values.format)) {
          throw new UsageError(
            'offload',
            `--format must be one of ${IMAGE_FORMATS.join(', ')}, not '${values.format}'`,
          );
        }
        format = values.format as ImageFormatName;
      } else {
        format = formatFromExtension(imageArg);
        if (!format) {
          throw new UsageError(
            'offload',
            `cannot tell the format of '${imageArg}' from its extension (.ova, .vmdk, .vhd, .vhdx, .img, .raw): pass --format`,
          );
        }
      }
      const concurrency = positiveInt('offload', 'concurrency', values.concurrency, 4);
      const interval = intervalMs('offload', values.interval);

      let image;
      try {
        image = await checkImageFile(imageArg);
      } catch (e) {
        if (e instanceof ImageFileError) throw new CliError(`cannot offload ${e.message}`);
        throw e;
      }
      const client = await clientFrom(o, values);
      const vmName = values.name ?? vmNameFromPath(image.path);

      // A big file takes a while to hash: make sure the gateway and key work first.
      if (!values['no-hash'] && image.sizeBytes > 1024 ** 3) await client.listOffloads('awaiting-upload');

      let jobId: string | undefined;
      let stage = 'hash';
      const interruptedHint = (): string =>
        jobId === undefined
          ? 'interrupted: nothing was created on the gateway'
          : stage === 'follow'
            ? `stopped following ${jobId}; it goes on: \`burstgate status ${jobId} --watch\``
            : `interrupted: job ${jobId} waits for its upload; remove it with \`burstgate cancel ${jobId}\``;
      const live = interruptible(o, interruptedHint);
      // what is uploaded: the image, or (--incremental) a delta of the blocks that changed
      let upload = { path: image.path, sizeBytes: image.sizeBytes, format };
      let disposeDelta: (() => Promise<void>) | undefined;
      try {
        if (values.incremental && target.cloud === 'aws') {
          stage = 'compare';
          const bar = o.bar('compare', 1);
          let prepared: IncrementalUpload;
          try {
            prepared = await prepareIncrementalUpload(client, {
              imagePath: image.path,
              region: target.region,
              vmName,
              onProgress: (p) => bar.update(p.done, p.total),
            });
            bar.finish();
          } catch (e) {
            bar.abort();
            if (isImageError(e))
              throw new CliError(`cannot compare ${imageArg} with the cached image: ${e.message}`);
            throw e;
          }
          if (prepared.kind === 'whole') {
            out(`--incremental: ${prepared.reason}; uploading the whole image`);
          } else {
            disposeDelta = prepared.dispose;
            const s = prepared.summary;
            out(
              `--incremental: ${s.dataBlocks} changed and ${s.zeroBlocks} zeroed block(s) of 512 KiB against ` +
                `${prepared.cached.snapshotId} (cached by ${prepared.cached.jobId}); uploading ` +
                `${formatBytes(prepared.sizeBytes)} instead of ${formatBytes(image.sizeBytes)}`,
            );
            upload = { path: prepared.path, sizeBytes: prepared.sizeBytes, format: 'delta' };
          }
        }
        let imageSha256: string | undefined;
        if (!values['no-hash']) {
          const bar = o.bar('sha256', upload.sizeBytes);
          try {
            imageSha256 = await sha256File(upload.path, {
              onProgress: (n) => bar.update(n),
              signal: live.signal,
            });
          } finally {
            bar.abort();
          }
        }
        stage = 'create';
        const created = await client.createOffload(
          {
            vmName,
            imageFormat: upload.format,
            imageSizeBytes: upload.sizeBytes,
            ...(imageSha256 ? { imageSha256 } : {}),
            target,
            ...(values['callback-url'] ? { callbackUrl: values['callback-url'] } : {}),
          },
          randomUUID(),
        );
        jobId = created.jobId;
        out(
          `${created.jobId}: offloading ${vmName} (${upload.format}, ${formatBytes(upload.sizeBytes)}) to ${targetText({ target })}`,
        );
        stage = 'upload';
        const bar = o.bar('upload', upload.sizeBytes);
        let parts;
        try {
          parts = await uploadImage(upload.path, created.upload, {
            concurrency,
            signal: live.signal,
            onProgress: (sent, total) => bar.update(sent, total),
          });
          bar.finish();
        } catch (e) {
          bar.abort();
          if (e instanceof GatewayClientError) {
            throw new CliError(
              e.message,
              `job ${jobId} waits for its upload; remove it with \`burstgate cancel ${jobId}\``,
            );
          }
          throw e;
        }
        await client.completeUpload(created.jobId, parts);
        out(`${clock()}  upload complete (${parts.length} part(s))`);
        if (values['no-follow']) {
          out(`follow it with: burstgate status ${created.jobId} --watch`);
          return 0;
        }
        stage = 'follow';
        const job = await followJob(client, created.jobId, {
          until: (j) => j.state === 'running' || j.state === 'failed' || j.state === 'cancelled',
          intervalMs: interval,
          onUpdate: jobPrinter(o),
          signal: live.signal,
        });
        if (job.state === 'running') {
          out(`${job.jobId} is running in ${targetText(job)}: ${cloudSummary(job)}`);
          out(`bring it home with: ${returnHint(job.jobId, target, imageArg, vmName)}`);
          return 0;
        }
        for (const l of job.error ? errorLines(job.error) : [`the offload ended ${job.state}`]) err(l);
        throw new JobOutcome(job.state);
      } finally {
        live.dispose();
        await disposeDelta?.();
      }
    },
  },

  status: {
    summary: "show a job's state, steps, resources and download",
    usage: `Usage: burstgate status <job-id> [--watch] [--json]

  --watch        keep polling, printing changes, until the job is running or finished
  --json         print the job as the API returns it
  --interval S   seconds between polls with --watch (default 2)
${GATEWAY_HELP}`,
    async run(args, o) {
      const { out } = o;
      const { values, positionals } = parse('status', args, {
        ...GATEWAY_OPTIONS,
        watch: { type: 'boolean', short: 'w' },
        json: { type: 'boolean' },
        interval: { type: 'string' },
      });
      if (values.help) return help(o, 'status');
      const id = onePositional('status', positionals, 'the job id (burstgate status <job-id>)');
      const interval = intervalMs('status', values.interval);
      const client = await clientFrom(o, values);
      let job = await client.getOffload(id);
      if (values.watch && !SETTLED.has(job.state)) {
        if (!values.json) out(renderJob(job));
        const live = interruptible(o, () => `stopped watching ${id}; it goes on`);
        try {
          const printer = jobPrinter(o);
          job = await followJob(client, id, {
            until: (j) => SETTLED.has(j.state),
            intervalMs: interval,
            onUpdate: (j, prev) => {
              if (prev && !values.json) printer(j, prev);
            },
            signal: live.signal,
          });
        } finally {
          live.dispose();
        }
        if (!values.json) out('');
      }
      out(values.json ? JSON.stringify(job, null, 2) : renderJob(job));
      return 0;
    },
  },

  list: {
    summary: 'list jobs, newest first',
    usage: `Usage: burstgate list [--state STATE] [--json]

  --state STATE   only jobs in this state: ${JOB_STATES.join(', ')}
  --json          print the jobs as the API returns them
${GATEWAY_HELP}`,
    async run(args, o) {
      const { out } = o;
      const { values, positionals } = parse('list', args, {
        ...GATEWAY_OPTIONS,
        state: { type: 'string' },
        json: { type: 'boolean' },
      });
      if (values.help) return help(o, 'list');
      if (positionals.length) throw new UsageError('list', `unexpected argument '${positionals[0]}'`);
      if (values.state !== undefined && !(JOB_STATES as readonly string[]).includes(values.state)) {
        throw new UsageError(
          'list',
          `--state must be one of ${JOB_STATES.join(', ')}, not '${values.state}'`,
        );
      }
      const client = await clientFrom(o, values);
      const jobs = await client.listOffloads(values.state as JobState | undefined);
      out(values.json ? JSON.stringify(jobs, null, 2) : renderJobTable(jobs));
      return 0;
    },
  },

  return: {
    summary: 'bring a running VM home and write its image (a whole OVA, or a delta applied to the original)',
    usage: `Usage: burstgate return <job-id> --out <file> [--base <original image>] [--to FORMAT] [--force]

Starts the return (stop → export → publish → clean up), follows it until the image is back in
staging, then downloads and verifies it. Running it again after a failed download just downloads
again.

What comes back depends on the job: the whole VM as an OVA (AWS), or a delta holding only what the
VM changed in the cloud (Azure), which is applied to the image that was offloaded (--base). Either
way FILE appears only once complete and verified; on any failure nothing is left behind.

  --out FILE      where to write the returned image
  --base IMAGE    the image that was offloaded (the file given to \`burstgate offload\`); needed
                  when the job comes back as a delta of changes (not for a full-disk fallback);
                  its disk is checked before anything is downloaded (and, when the gateway knows
                  the offloaded disk, before the return starts)
  --to FORMAT     what to write: ${RETURN_OUTPUT_FORMATS.join(', ')}
                  default: ova when FILE ends in .ova, else vmdk-stream (a streamOptimized VMDK)
  --force         overwrite FILE if it exists
  --interval S    seconds between status polls (default 2)
${GATEWAY_HELP}`,
    async run(args, o) {
      const { out, err } = o;
      const { values, positionals } = parse('return', args, {
        ...GATEWAY_OPTIONS,
        out: { type: 'string', short: 'o' },
        base: { type: 'string' },
        to: { type: 'string' },
        force: { type: 'boolean' },
        interval: { type: 'string' },
      });
      if (values.help) return help(o, 'return');
      const id = onePositional('return', positionals, 'the job id (burstgate return <job-id> --out <file>)');
      if (!values.out) {
        throw new UsageError(
          'return',
          'missing --out <file>: where to write the returned image (.ova for an OVA, else a streamOptimized VMDK)',
        );
      }
      const to = values.to ?? outputFormatFor(values.out);
      if (!(RETURN_OUTPUT_FORMATS as readonly string[]).includes(to)) {
        throw new UsageError(
          'return',
          `--to must be one of ${RETURN_OUTPUT_FORMATS.join(', ')}, not '${to}'`,
        );
      }
      const interval = intervalMs('return', values.interval);
      const outPath = resolve(values.out);
      const basePath = values.base !== undefined ? resolve(values.base) : undefined;
      if (basePath === outPath) {
        throw new UsageError(
          'return',
          `--out ${values.out} is the --base image: the delta is applied to it, so write the result to another file`,
        );
      }
      await checkWritableTarget(outPath, values.force === true);
      if (basePath !== undefined) await checkBaseFile(basePath);
      const client = await clientFrom(o, values);
      const retry = [
        `burstgate return ${id}`,
        ...(values.base !== undefined ? [`--base ${values.base}`] : []),
        `--out ${values.out}`,
      ].join(' ');

      let job: ClientJobView = await client.getOffload(id);
      const progress = phaseProgress(o);
      let stage: 'check' | 'follow' | 'fetch' = 'check';
      const live = interruptible(o, () =>
        stage === 'follow'
          ? `stopped following ${id}; the return goes on: \`burstgate status ${id} --watch\``
          : stage === 'fetch'
            ? `interrupted: nothing was kept; the image stays in staging: run \`${retry}\` again`
            : 'interrupted: nothing was changed',
      );
      try {
        // a delta of changes needs the offloaded image; the full-disk fallback (no base hash) does not
        const needsBase = (dl: ClientJobView['download']): boolean =>
          dl?.format === 'delta' && dl.baseDiskSha256 !== undefined && basePath === undefined;
        if (job.state === 'returned' && needsBase(job.download)) throw baseRequired(id, values.out);
        // The base is checked first, while nothing has happened yet: a wrong file fails before the
        // VM is stopped. Not when the job came back as a whole OVA already (no base needed then).
        let measured: MeasuredBase | undefined;
        const offloadedDisk = job.download?.baseDiskSha256 ?? job.image.diskSha256;
        const wholeOva = job.state === 'returned' && job.download?.format === 'ova';
        if (basePath !== undefined && offloadedDisk !== undefined && !wholeOva) {
          measured = await measureBaseForCli(o, progress, basePath);
          // hashing cannot be cut short; a Ctrl-C meanwhile must still keep the return from starting
          live.signal.throwIfAborted();
          checkBase(measured, offloadedDisk, id);
          out(`${clock()}  base ${basePath}: disk content sha256 ${measured.sha256} (the offloaded disk)`);
        }
        if (job.state !== 'returned' && job.state !== 'returning') {
          const started = await client.startReturn(id);
          out(`${clock()}  ${id}: ${started.state}`);
        } else {
          out(`${clock()}  ${id} is already ${job.state}`);
        }
        stage = 'follow';
        job = await followJob(client, id, {
          until: (j) => ['returned', 'return-failed', 'failed', 'cancelled'].includes(j.state),
          intervalMs: interval,
          onUpdate: jobPrinter(o),
          signal: live.signal,
        });
        if (job.state !== 'returned' || !job.download) {
          for (const l of job.error ? errorLines(job.error) : [`the return ended ${job.state}`]) err(l);
          if (job.state === 'return-failed') {
            err(`the VM is kept so nothing is lost; retry with: ${retry}`);
          }
          throw new JobOutcome(job.state);
        }
        const d = checkDownload(job);
        if (needsBase(d)) throw baseRequired(id, values.out);
        if (d.format === 'ova' && basePath !== undefined) {
          err(`note: ${id} came back as a whole OVA; --base is not needed and was not used`);
        }
        stage = 'fetch';
        const fetching = fetchReturnedImage({
          jobId: id,
          vmName: job.vmName,
          download: d,
          out: outPath,
          to: to as ReturnOutputFormat,
          ...(basePath !== undefined ? { base: basePath } : {}),
          ...(measured !== undefined ? { measured } : {}),
          signal: live.signal,
          onProgress: progress.update,
          onPhase: (phase) => {
            progress.phase(phase);
            if (phase === 'rebuild') {
              err(`rebuilding ${outPath} (${to}) from ${basePath ?? 'an empty disk'} and the delta`);
            }
          },
        });
        // the delta itself may say it needs a base (known only once downloaded): still a usage error
        const result = await fetching.catch((e: unknown) => {
          if (e instanceof GatewayClientError && e.kind === 'base-required') {
            throw new UsageError(
              'return',
              `${e.message} (the return is done: running it again only downloads)`,
            );
          }
          throw e;
        });
        progress.done();
        printReturned(o, result, d);
        return 0;
      } catch (e) {
        progress.abort();
        throw e;
      } finally {
        live.dispose();
      }
    },
  },

  image: {
    summary: 'inspect, convert and verify disk images (VMDK, VHD, VHDX, qcow2, raw, OVA)',
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
        help: { type: 'boolean', short: 'h' },
      });
      if (values.help) return help(o, 'image');
      const [action, ...files] = positionals;
      const progress = (label: string) => {
        let bar: ProgressBar | undefined;
        return {
          onProgress: (done: number, total: number) => {
            bar ??= o.bar(label, total);
            bar.update(done, total);
          },
          finish: () => bar?.finish(),
        };
      };
      const show = (summary: ImageSummary, extra: Record<string, unknown> = {}) => {
        if (values.json) return o.out(JSON.stringify({ ...summary, ...extra }, null, 2));
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
      };
      const { describeImage, convertImage } = await import('../shared/images');
      try {
        if (action === 'info') {
          const file = onePositional('image', files, 'the image file (burstgate image info <file>)');
          const p = progress('read');
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
          const p = progress('convert');
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
  },

  'api-key': {
    summary: 'create an API key for a deployed gateway (stored hashed in its jobs table)',
    usage: `Usage: burstgate api-key create --table NAME [--region R] [--label TEXT] [--endpoint URL]

Creates a new API key, stores its SHA-256 in the gateway's jobs table (the stack output
JobsTableName) and prints the key once: it cannot be shown again. Uses your AWS credentials.

  --table NAME     the jobs table (stack output JobsTableName)
  --region R       its region (default: $AWS_REGION, else us-east-1)
  --label TEXT     who or what the key is for (default: cli)
  --endpoint URL   a DynamoDB endpoint other than AWS's (e.g. a local one)`,
    async run(args, o) {
      const { values, positionals } = parse('api-key', args, {
        table: { type: 'string' },
        region: { type: 'string' },
        label: { type: 'string' },
        endpoint: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      });
      if (values.help) return help(o, 'api-key');
      if (positionals[0] !== 'create' || positionals.length !== 1) {
        throw new UsageError(
          'api-key',
          'the only action is `create` (burstgate api-key create --table NAME)',
        );
      }
      if (!values.table)
        throw new UsageError('api-key', '--table is required (the stack output JobsTableName)');
      const { createApiKey } = await import('../shared/store/api-key-admin');
      const key = await createApiKey({
        table: values.table,
        region: values.region ?? o.io.env.AWS_REGION ?? 'us-east-1',
        label: values.label ?? 'cli',
        ...(values.endpoint ? { endpoint: values.endpoint } : {}),
      });
      o.out(key);
      o.err(`burstgate: API key created in ${values.table}; it is shown only this once, store it safely`);
      return 0;
    },
  },

  cancel: {
    summary: 'cancel a job and remove everything it created',
    usage: `Usage: burstgate cancel <job-id> [--wait]

  --wait         follow the job until it is cancelled
  --interval S   seconds between polls with --wait (default 2)
${GATEWAY_HELP}`,
    async run(args, o) {
      const { out, err } = o;
      const { values, positionals } = parse('cancel', args, {
        ...GATEWAY_OPTIONS,
        wait: { type: 'boolean' },
        interval: { type: 'string' },
      });
      if (values.help) return help(o, 'cancel');
      const id = onePositional('cancel', positionals, 'the job id (burstgate cancel <job-id>)');
      const interval = intervalMs('cancel', values.interval);
      const client = await clientFrom(o, values);
      const answer = await client.cancel(id);
      out(`${clock()}  ${id}: ${answer.state}`);
      if (values.wait && answer.state !== 'cancelled') {
        const job = await followJob(client, id, {
          until: (j) => j.state === 'cancelled',
          intervalMs: interval,
          onUpdate: jobPrinter(o),
        });
        if (job.state !== 'cancelled') {
          if (job.error) for (const l of errorLines(job.error)) err(l);
          throw new JobOutcome(job.state);
        }
      }
      return 0;
    },
  },
};

/** States `status --watch` waits for: nothing more happens without someone asking. */
const SETTLED: ReadonlySet<JobState> = new Set([
  'running',
  'returned',
  'return-failed',
  'failed',
  'cancelled',
]);

/**
 * The cloud ids worth a glance: EC2's instance and AMI, Azure's VM and managed disk (by name: the
 * last segment of their ARM ids; `status` shows the full ids), else whatever ids the cloud reports.
 */
function cloudSummary(job: ClientJobView): string {
  const c = job.cloud as Record<string, unknown>;
  const armName = (id: unknown): string => String(id).split('/').pop() ?? String(id);
  const known = [
    c.instanceId && `instance ${String(c.instanceId)}`,
    c.amiId && `AMI ${String(c.amiId)}`,
    c.virtualMachineId && `VM ${armName(c.virtualMachineId)}`,
    c.diskId && `disk ${armName(c.diskId)}`,
  ];
  const any = Object.entries(c)
    .filter(([, v]) => typeof v === 'string' && v !== '')
    .map(([k, v]) => `${k} ${String(v)}`);
  const bits = known.some(Boolean) ? known.filter(Boolean) : any;
  const took = job.steps.reduce((n, s) => n + s.durationMs, 0);
  return `${bits.join(', ') || 'no cloud id reported'} (steps took ${formatDuration(took)})`;
}

const CLOUDS: readonly CloudName[] = ['aws', 'azure'];
const AWS_FLAGS = ['region', 'instance-type', 'mode'] as const;
const AWS_MODES = ['direct', 'import'] as const;
const AZURE_FLAGS = ['location', 'vm-size', 'resource-group'] as const;
const AZURE_EXAMPLE = '--cloud azure --location westeurope --vm-size Standard_D2s_v3';

/** The create request's target from `offload`'s flags; a flag of the other cloud is a usage error. */
function offloadTarget(values: {
  cloud?: string;
  to?: string;
  region?: string;
  'instance-type'?: string;
  mode?: string;
  location?: string;
  'vm-size'?: string;
  'resource-group'?: string;
}): JobTarget {
  if (values.cloud !== undefined && values.to !== undefined && values.cloud !== values.to) {
    throw new UsageError(
      'offload',
      `--cloud ${values.cloud} and --to ${values.to} disagree: pass only --cloud`,
    );
  }
  const cloud = values.cloud ?? values.to ?? 'aws';
  if (!(CLOUDS as readonly string[]).includes(cloud)) {
    throw new UsageError('offload', `--cloud must be one of ${CLOUDS.join(', ')}, not '${cloud}'`);
  }
  const misplaced = (flags: readonly string[], other: string, instead: string): void => {
    const wrong = flags.find((f) => values[f as keyof typeof values] !== undefined);
    if (wrong)
      throw new UsageError('offload', `--${wrong} is for --cloud ${other}; for ${cloud} use ${instead}`);
  };
  if (cloud === 'aws') {
    misplaced(AZURE_FLAGS, 'azure', '--region, --instance-type and --mode');
    const mode = values.mode;
    if (mode !== undefined && !(AWS_MODES as readonly string[]).includes(mode)) {
      throw new UsageError('offload', `--mode must be one of ${AWS_MODES.join(', ')}, not '${mode}'`);
    }
    return {
      cloud: 'aws',
      region: values.region ?? 'us-east-1',
      instanceType: values['instance-type'] ?? 't3.medium',
      ...(mode !== undefined ? { mode: mode as (typeof AWS_MODES)[number] } : {}),
    };
  }
  misplaced(AWS_FLAGS, 'aws', '--location and --vm-size');
  if (values.location === undefined) {
    throw new UsageError(
      'offload',
      `missing --location (the Azure region) for --cloud azure, e.g. ${AZURE_EXAMPLE}`,
    );
  }
  if (values['vm-size'] === undefined) {
    throw new UsageError(
      'offload',
      `missing --vm-size (the Azure VM size) for --cloud azure, e.g. ${AZURE_EXAMPLE}`,
    );
  }
  return {
    cloud: 'azure',
    location: values.location,
    vmSize: values['vm-size'],
    ...(values['resource-group'] !== undefined ? { resourceGroup: values['resource-group'] } : {}),
  };
}

/**
 * The `return` command to print once an offload runs. An Azure VM comes back as a delta applied to
 * the offloaded image, so the hint names it as --base and an output that is not the base itself.
 */
function returnHint(jobId: string, target: JobTarget, image: string, vmName: string): string {
  if (target.cloud === 'aws') return `burstgate return ${jobId} --out ${vmName}.ova`;
  return `burstgate return ${jobId} --base ${image} --out ${vmName}-returned${extname(image).toLowerCase() === '.ova' ? '.ova' : '.vmdk'}`;
}

function baseRequired(id: string, outArg: string): UsageError {
  return new UsageError(
    'return',
    `${id} came back as a delta (only what changed in the cloud): pass the image that was offloaded ` +
      `(the file given to \`burstgate offload\`) as --base, e.g. burstgate return ${id} --base vm.ova --out ${outArg}` +
      ' (the return is done: running it again only downloads)',
  );
}

/** The base given to `return`: it must be a readable file (a missing one fails before anything). */
async function checkBaseFile(path: string): Promise<void> {
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw new CliError(
      `cannot read the --base image ${path}: ${e.code === 'ENOENT' ? 'no such file' : (e.code ?? e.message)}`,
      'pass the image that was offloaded (the file given to `burstgate offload`)',
    );
  });
  if (!st.isFile()) throw new CliError(`--base ${path} is not a file; pass the image that was offloaded`);
}

/** Progress bars for the phases of a return's download, one after the other, on stderr. */
function phaseProgress(o: Output) {
  const labels: Record<string, string> = { base: 'base sha256', download: 'download', convert: 'convert' };
  let bar: ProgressBar | undefined;
  let current: string | undefined;
  return {
    phase(name: string): void {
      bar?.finish();
      bar = undefined;
      current = name;
    },
    update: (name: string, done: number, total: number | undefined): void => {
      if (name !== current) {
        bar?.finish();
        bar = undefined;
        current = name;
      }
      bar ??= o.bar(labels[name] ?? name, total ?? 0);
      bar.update(done, total);
    },
    done(): void {
      bar?.finish();
      bar = undefined;
    },
    abort(): void {
      bar?.abort();
      bar = undefined;
    },
  };
}

async function measureBaseForCli(
  o: Output,
  progress: ReturnType<typeof phaseProgress>,
  path: string,
): Promise<MeasuredBase> {
  progress.phase('base');
  try {
    const m = await measureBase(path, { onProgress: (done, total) => progress.update('base', done, total) });
    progress.done();
    return m;
  } catch (e) {
    progress.abort();
    if (isImageError(e)) {
      throw new CliError(
        `--base ${path} is not a readable disk image (${e.code}: ${e.message})`,
        'pass the image that was offloaded (the file given to `burstgate offload`)',
      );
    }
    throw e;
  }
}

function printReturned(o: Output, r: FetchedReturnedImage, d: JobDownload): void {
  const { out } = o;
  const original = d.matchesOriginal
    ? 'identical to the disk that was offloaded'
    : 'the disk changed in the cloud';
  if (r.source === 'ova' && r.format === 'ova') {
    out(`returned image: ${r.path}`);
    out(`  size          ${formatBytes(r.outputBytes)} (${r.outputBytes} bytes)`);
    out(`  sha256        ${r.downloadSha256} (verified)`);
    out(`  disk sha256   ${d.diskSha256} (${original})`);
    return;
  }
  out(`returned image: ${r.path} (${r.format}, ${formatBytes(r.outputBytes)})`);
  if (r.delta) {
    const x = r.delta;
    out(
      `  delta         ${formatBytes(r.downloadedBytes)} downloaded (${r.downloadedBytes} bytes), sha256 ${r.downloadSha256} (verified)`,
    );
    const onto = x.base
      ? `to ${x.base} (${x.baseFormat})`
      : 'to an empty disk (the gateway sent the whole disk: no base existed in the cloud)';
    out(
      `  applied       ${x.extents} extent(s) ${onto}: ${formatBytes(x.bytesApplied)} of data (${x.bytesApplied} bytes), ${formatBytes(x.zeroBytes)} zeroed`,
    );
  } else {
    out(
      `  downloaded    OVA, ${formatBytes(r.downloadedBytes)} (${r.downloadedBytes} bytes), sha256 ${r.downloadSha256} (verified), converted to ${r.format}`,
    );
  }
  out(`  disk sha256   ${r.diskSha256 ?? d.diskSha256} (verified: the disk the gateway returned)`);
  out(`  original      ${original}`);
}

async function checkWritableTarget(outPath: string, force: boolean): Promise<void> {
  const dir = dirname(outPath);
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) throw new CliError(`cannot write ${outPath}: ${dir} is not a directory`);
    await access(dir, constants.W_OK);
  } catch (e) {
    if (e instanceof CliError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(
      `cannot write ${outPath}: ${code === 'ENOENT' ? `the folder ${dir} does not exist` : `${dir} is not writable`}`,
    );
  }
  const existing = await stat(outPath).catch(() => undefined);
  if (existing?.isDirectory())
    throw new CliError(`--out ${outPath} is a directory; name a file such as vm.ova`);
  if (existing && !force) throw new CliError(`${outPath} already exists`, 'pass --force to overwrite it');
}

function version(): string {
  try {
    return (
      (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? '?'
    );
  } catch {
    return '?';
  }
}

function mainHelp(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return `burstgate ${version()} — move a VMware VM into the cloud for a while, and bring it home

Usage: burstgate <command> [options]     (burstgate <command> --help for its options)

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  .join('\n')}

The client commands talk to the gateway at --gateway / $BURSTGATE_GATEWAY / .burstgate/api-url
with the key from --api-key / $BURSTGATE_API_KEY / .burstgate/api-key.`;
}

function help(o: Output, command: string): number {
  o.out(commands[command]?.usage ?? mainHelp());
  return 0;
}

export async function main(
  argv: string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const o = new Output(io);
  const [name, ...rest] = argv;
  try {
    if (name === undefined) throw new UsageError(undefined, 'missing command');
    if (name === '--help' || name === '-h' || name === 'help') return help(o, rest[0] ?? '');
    if (name === '--version' || name === '-v') {
      o.out(version());
      return 0;
    }
    const command = commands[name];
    if (!command) throw new UsageError(undefined, `unknown command '${name}'`);
    return await command.run(rest, o);
  } catch (e) {
    return report(o, e);
  }
}

function report(o: Output, e: unknown): number {
  const { err } = o;
  if (e instanceof UsageError) {
    const where = e.command ? `burstgate ${e.command}` : 'burstgate';
    err(`${where}: ${e.message}`);
    err(`run \`${where} --help\` for usage`);
    return 2;
  }
  if (e instanceof JobOutcome) return 1;
  if (e instanceof CliError) {
    if (e.message === 'interrupted') return 130;
    err(`burstgate: ${e.message}`);
    if (e.hint) err(`hint: ${e.hint}`);
    return 1;
  }
  if (e instanceof GatewayClientError || e instanceof ClientConfigError) {
    err(`burstgate: ${e.message}`);
    return 1;
  }
  // a disk image or delta that is wrong (a return's rebuild, a conversion): its code says what
  if (isImageError(e)) {
    err(`burstgate: ${e.code}: ${e.message}`);
    return 1;
  }
  if ((e as { name?: string }).name === 'AbortError') return 130;
  err(`burstgate: unexpected error: ${(e as Error)?.message ?? String(e)}`);
  if (o.io.env.BURSTGATE_DEBUG) err((e as Error)?.stack ?? '');
  else err('hint: set BURSTGATE_DEBUG=1 for the stack trace, and report it');
  return 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`burstgate: ${(e as Error)?.message ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
