/**
 * Execution records of the local Step Functions service kept in one JSON file across restarts.
 * Executions are not resumed: one saved while RUNNING comes back ABORTED (`Local.Restarted`).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ExecutionRecord } from './sfn-model';

type SavedRecord = Omit<ExecutionRecord, 'startDate' | 'stopDate'> & { startDate: string; stopDate?: string };

export class ExecutionStore {
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: string,
    private readonly log?: (line: string) => void,
  ) {}

  /** Writes the records as they are now (writes are serialized; each is an atomic rename). */
  save(records: ExecutionRecord[]): void {
    const file = this.file;
    const text = JSON.stringify({ version: 1, executions: records });
    this.saving = this.saving
      .then(async () => {
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(`${file}.tmp`, text);
        await rename(`${file}.tmp`, file);
      })
      .catch((err: unknown) => this.log?.(`could not save executions to ${file}: ${String(err)}`));
  }

  /** Resolves once every save asked for so far has been written (or has failed and been logged). */
  flushed(): Promise<void> {
    return this.saving;
  }

  /** The saved records of the state machines `isKnown` accepts; none when there is no file yet. */
  async load(isKnown: (stateMachineArn: string) => boolean): Promise<ExecutionRecord[]> {
    const file = this.file;
    let saved: { executions?: SavedRecord[] };
    try {
      saved = JSON.parse(await readFile(file, 'utf8')) as typeof saved;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new Error(`cannot read the saved executions in ${file}: ${(err as Error).message}`);
    }
    const records: ExecutionRecord[] = [];
    for (const r of saved.executions ?? []) {
      if (!isKnown(r.stateMachineArn)) continue;
      const { stopDate, ...rest } = r;
      const record: ExecutionRecord = {
        ...rest,
        startDate: new Date(r.startDate),
        ...(stopDate ? { stopDate: new Date(stopDate) } : {}),
      };
      if (record.status === 'RUNNING') {
        Object.assign(record, {
          status: 'ABORTED',
          error: 'Local.Restarted',
          cause: 'the embedded deployment stopped while this execution ran; local executions are not resumed',
          stopDate: new Date(),
        });
      }
      records.push(record);
    }
    return records;
  }
}
