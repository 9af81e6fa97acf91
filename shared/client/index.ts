/** The on-prem client: API client, presigned upload/download, job following, progress, returned images (delta apply). */
export { GatewayClient, type GatewayClientOptions } from './api-client';
export { ClientConfigError, DEFAULT_STATE_DIR, resolveGateway, type GatewaySettings } from './config';
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
export { checkImageFile, formatFromExtension, ImageFileError, vmNameFromPath } from './image-file';
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
export { sha256File } from './sha256';
export type * from './types';
export { uploadImage, planParts, type UploadOptions } from './upload';
