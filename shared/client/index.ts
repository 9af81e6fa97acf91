/** The on-prem client: API client, presigned upload/download, job following, progress, returned images (delta apply), leases and times, and the offload and return workflows built from them. */
export { GatewayClient, type GatewayClientOptions } from './api-client';
export { DEFAULT_STATE_DIR, resolveGateway, type GatewaySettings } from './config';
export {
  MAX_BLOCK_MANIFEST_BYTES,
  downloadBlockManifest,
  downloadImage,
  type BlockManifestDownloadOptions,
  type DownloadOptions,
  type DownloadResult,
} from './download';
export { GatewayClientError, type GatewayClientErrorKind, type ProblemDetails } from './errors';
export { followJob, type FollowOptions, type JobSource } from './follow';
export {
  checkBaseFile,
  checkImageFile,
  checkOutputFile,
  formatFromExtension,
  vmNameFromPath,
} from './image-file';
export {
  offloadImage,
  type Comparison,
  type OffloadClient,
  type OffloadEvent,
  type OffloadOptions,
  type OffloadResult,
  type OffloadStage,
  type OffloadUpload,
  settled,
} from './offload-workflow';
export {
  extendedExpiry,
  launchLines,
  leaseLines,
  planChange,
  type LeaseLine,
  type LeasedJob,
} from './leases';
export { prestageImage, type PrestageOptions, type PrestageResult } from './prestage-workflow';
export { ProgressBar, formatBytes } from './progress';
export { renderJob, renderJobTable, targetText } from './render';
export {
  RETURN_OUTPUT_FORMATS,
  checkBase,
  checkDownload,
  fetchReturnedImage,
  measureBase,
  outputFormatFor,
  type FetchReturnedImageOptions,
  type FetchedReturnedImage,
  type MeasuredBase,
  type ReturnOutputFormat,
} from './returned-image';
export {
  returnJob,
  type ReturnClient,
  type ReturnEvent,
  type ReturnOptions,
  type ReturnPhase,
  type ReturnResult,
  type ReturnStage,
} from './return-workflow';
export {
  renderPreview,
  renderSchedule,
  renderScheduleTable,
  ruleText,
  scheduleZone,
  windowLines,
} from './schedules';
export { sha256File } from './sha256';
export {
  TimeInputError,
  UTC,
  displayZone,
  formatInstant,
  formatSpan,
  parseDuration,
  parseInstant,
  relativeTo,
  zoneNamed,
  type ParsedInstant,
  type Zone,
} from './times';
export type * from './types';
export { uploadImage, planParts, type UploadOptions } from './upload';
