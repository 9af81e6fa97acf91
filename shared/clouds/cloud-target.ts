/**
 * The port every cloud adapter implements. Workflow steps talk to this, never to an SDK, so a
 * second cloud (Azure) plugs in behind the same steps. Methods are small and idempotent where
 * the cloud allows: a retried step must not create a second resource.
 */
import type { Job, JobResource } from '../domain/job';

export interface ImportProgress {
  done: boolean;
  status: string;
  progress?: number;
  amiId?: string;
  snapshotIds?: string[];
  /** Bytes of disk the cloud converted (for the job's byte counters). */
  bytes?: number;
}

export interface ExportProgress {
  done: boolean;
  status: string;
  bucket?: string;
  key?: string;
}

export interface CreatedResource {
  type: JobResource['type'];
  id: string;
  location: string;
}

export interface CloudTarget {
  /** Starts importing the staged image; returns the import task (idempotent per job). */
  startImport(job: Job): Promise<CreatedResource>;
  /** Where the import is; throws CloudError `ImportFailed` with the cloud's reason when it failed. */
  checkImport(job: Job): Promise<ImportProgress>;
  /** Launches the VM from the imported image (idempotent per job). */
  launch(job: Job): Promise<CreatedResource>;
  /** The instance's lifecycle state as the cloud names it (`pending`, `running`, `stopped`, ...). */
  instanceState(job: Job): Promise<string>;
  stop(job: Job): Promise<void>;
  /** Starts exporting the stopped instance's disk to the staging bucket as an OVA. */
  startExport(job: Job, bucket: string, prefix: string): Promise<CreatedResource>;
  checkExport(job: Job): Promise<ExportProgress>;
  /** Removes one resource the job created. Idempotent: a resource that is already gone is fine. */
  remove(resource: JobResource): Promise<void>;
}
