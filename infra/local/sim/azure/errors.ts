/**
 * The simulator's one error family: an error answered to a client in Azure's own shape. ARM answers
 * `{"error":{"code","message"}}` JSON; Blob storage answers `<Error><Code/><Message/></Error>` XML
 * with an `x-ms-error-code` header. `kind` says which shape to render.
 */
export class AzureSimError extends Error {
  constructor(
    readonly kind: 'arm' | 'blob',
    readonly code: string,
    message: string,
    readonly status: number,
    /** Extra response headers (Retry-After on throttling, WWW-Authenticate on 401). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AzureSimError';
  }
}

export const armError = (code: string, message: string, status = 400, headers: Record<string, string> = {}) =>
  new AzureSimError('arm', code, message, status, headers);

export const blobError = (code: string, message: string, status: number) =>
  new AzureSimError('blob', code, message, status);

/** Used by the simulator's own helpers (guestWrite, readDisk) when a test asks for the impossible. */
export class AzureSimUsageError extends Error {
  constructor(message: string) {
    super(`azure-sim: ${message}`);
    this.name = 'AzureSimUsageError';
  }
}
