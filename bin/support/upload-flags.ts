/**
 * The upload flags of `offload` and `schedule prestage`: the image's format, incremental, hashing,
 * parallel parts and following, each wrong value a usage error naming the flag; and the image file
 * itself, checked before anything is asked of the gateway.
 */
import { GatewayClientError } from '../../shared/client/errors';
import { IMAGE_FORMATS, checkImageFile, formatFromExtension } from '../../shared/client/image-file';
import type { ImageFormatName } from '../../shared/client/types';
import { intervalMs, positiveInt } from './args';
import { CliError, UsageError } from './errors';

export const UPLOAD_OPTIONS = {
  format: { type: 'string' },
  incremental: { type: 'boolean' },
  'no-hash': { type: 'boolean' },
  concurrency: { type: 'string' },
  'no-follow': { type: 'boolean' },
  interval: { type: 'string' },
} as const;

/** What the offload workflow takes from the upload flags. */
export function uploadFlags(
  command: string,
  imageArg: string,
  values: {
    format?: string;
    incremental?: boolean;
    'no-hash'?: boolean;
    concurrency?: string;
    'no-follow'?: boolean;
    interval?: string;
  },
) {
  return {
    format: imageFormat(command, imageArg, values.format),
    incremental: values.incremental === true,
    hash: !values['no-hash'],
    concurrency: positiveInt(command, 'concurrency', values.concurrency, 4),
    follow: !values['no-follow'],
    intervalMs: intervalMs(command, values.interval),
  };
}

/** The image file, checked (exists, a file, readable, not empty); `verb` says what cannot be done with it. */
export function imageToUpload(imageArg: string, verb: string) {
  return checkImageFile(imageArg).catch((e: unknown) => {
    if (e instanceof GatewayClientError && e.kind === 'image-file')
      throw new CliError(`cannot ${verb} ${e.message}`);
    throw e;
  });
}

export function imageFormat(command: string, imageArg: string, flag: string | undefined): ImageFormatName {
  if (flag !== undefined) {
    if (!(IMAGE_FORMATS as readonly string[]).includes(flag)) {
      throw new UsageError(command, `--format must be one of ${IMAGE_FORMATS.join(', ')}, not '${flag}'`);
    }
    return flag as ImageFormatName;
  }
  const format = formatFromExtension(imageArg);
  if (!format) {
    throw new UsageError(
      command,
      `cannot tell the format of '${imageArg}' from its extension (.ova, .vmdk, .vhd, .vhdx, .img, .raw): pass --format`,
    );
  }
  return format;
}
