/** Where the CLI writes, and the pieces of output several commands share. */
import { ProgressBar, type ProgressStream } from '../../shared/client/progress';
import { stepLine } from '../../shared/client/render';
import type { JobView } from '../../shared/client/types';
import { CliError } from './errors';

/** Where output goes: the process's streams, or a test's buffers. */
export interface Io {
  stdout: ProgressStream;
  stderr: ProgressStream;
  env: NodeJS.ProcessEnv;
}

export class Output {
  constructor(readonly io: Io) {}
  readonly out = (line = ''): void => void this.io.stdout.write(`${line}\n`);
  readonly err = (line: string): void => void this.io.stderr.write(`${line}\n`);
  bar(label: string, total: number): ProgressBar {
    return new ProgressBar({ label, total, stream: this.io.stderr });
  }
}

export const clock = (): string => new Date().toISOString().slice(11, 19);

/** Ctrl-C: abort what is under way, and say what state things are left in. */
export function interruptible(
  o: Output,
  onInterrupt: () => string,
): { signal: AbortSignal; dispose: () => void } {
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
export function jobPrinter(o: Output): (job: JobView, prev: JobView | undefined) => void {
  return (job, prev) => {
    const seen = prev?.steps.length ?? job.steps.length;
    for (const s of job.steps.slice(seen)) o.out(`${clock()}    ${stepLine(s)}`);
    if (job.state !== prev?.state) {
      o.out(`${clock()}  ${job.state}${job.activeStep ? ` (${job.activeStep.name})` : ''}`);
    }
  };
}
