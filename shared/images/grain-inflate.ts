/**
 * Inflating compressed VMDK grains straight into the caller's buffer with one zlib stream per
 * thread, reset between grains.
 *
 * Why not `zlib.inflateSync` per grain: it builds a new zlib stream object each time (a native
 * context, a Transform stream, a 16 KiB output buffer), inflates into 16 KiB pieces and
 * concatenates them, and the caller copies the result once more. Measured on a 2 GiB sparse
 * streamOptimized VMDK (2048 grains of random data): those costs were about 40 % of the main
 * thread's time in a VMDK → fixed VHD conversion. Node offers no public API that inflates into a
 * given buffer or reuses a stream for sync calls (`_processChunk` closes the stream after one use),
 * so this uses the stream's native handle the way Node's own `processChunkSync` does
 * (`handle.writeSync(flush, in, inOff, inLen, out, outOff, outLen)`, results in `_writeState`).
 * That handle is internal: when it is missing or behaves unexpectedly (another Node version),
 * `inflateGrainInto` falls back to `inflateSync` and a copy, so only speed depends on it.
 */
import { constants, createInflate, inflateSync } from 'node:zlib';

interface InflateHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  reset(): void;
  close(): void;
  onerror: ((message: string, errno: number, code?: string) => void) | undefined;
}

interface ReusableInflate {
  handle: InflateHandle;
  /** [avail_out, avail_in] after the last writeSync. */
  state: Uint32Array;
  /** Set by the handle's error callback during a writeSync. */
  error: Error | undefined;
}

let engine: ReusableInflate | undefined;
/** False once the internal handle turned out unusable: every grain takes the public path. */
let handleUsable = true;
const probe = Buffer.alloc(1);

function openEngine(): ReusableInflate | undefined {
  const stream = createInflate() as unknown as { _handle?: unknown; _writeState?: unknown };
  const handle = stream._handle as Partial<InflateHandle> | undefined;
  const state = stream._writeState;
  if (
    !handle ||
    typeof handle.writeSync !== 'function' ||
    typeof handle.reset !== 'function' ||
    typeof handle.close !== 'function' ||
    !(state instanceof Uint32Array) ||
    state.length < 2
  ) {
    handleUsable = false;
    return undefined;
  }
  const e: ReusableInflate = { handle: handle as InflateHandle, state, error: undefined };
  // Replaces the stream's own callback, which would destroy the stream and emit 'error' later:
  // a corrupt grain is reported by the throw below, and the handle is dropped.
  e.handle.onerror = (message, errno, code) => {
    e.error = Object.assign(new Error(message), { errno, code });
  };
  return e;
}

function dropEngine(): void {
  const e = engine;
  engine = undefined;
  try {
    e?.handle.close();
  } catch {
    // already closed by zlib after a fatal error
  }
}

/** What `inflateSync` would throw for a grain whose data inflates to more than `max` bytes. */
function tooLarge(max: number): Error {
  return Object.assign(new Error(`the data inflates to more than ${max} bytes`), {
    code: 'ERR_BUFFER_TOO_LARGE',
  });
}

/**
 * Inflates one zlib stream (`zdata`, trailing bytes after its end ignored, as `inflateSync` does)
 * into `out` and returns the inflated length. Throws a zlib error for corrupt or truncated data,
 * and when the data inflates to more than `out.length` bytes.
 */
export function inflateGrainInto(zdata: Uint8Array, out: Buffer): number {
  if (handleUsable) engine ??= openEngine();
  const e = engine;
  if (!e) return inflateGrainCopy(zdata, out);
  e.error = undefined;
  try {
    e.handle.writeSync(constants.Z_FINISH, zdata, 0, zdata.length, out, 0, out.length);
  } catch (err) {
    dropEngine();
    throw err;
  }
  if (e.error) {
    dropEngine();
    throw e.error;
  }
  const availOut = e.state[0]!;
  const availIn = e.state[1]!;
  if (availOut > out.length) {
    // not what Node's own code expects from this handle: stop using it
    dropEngine();
    handleUsable = false;
    return inflateGrainCopy(zdata, out);
  }
  if (availOut === 0) {
    // `out` is full: the stream must have ended exactly there (a further call yields nothing)
    e.handle.writeSync(constants.Z_FINISH, zdata, zdata.length - availIn, availIn, probe, 0, 1);
    const error = e.error as Error | undefined;
    if (error) {
      dropEngine();
      throw error;
    }
    if (e.state[0] === 0) {
      dropEngine();
      throw tooLarge(out.length);
    }
  }
  e.handle.reset();
  return out.length - availOut;
}

/** The same with Node's public API (a new stream per call and a copy): the fallback. */
export function inflateGrainCopy(zdata: Uint8Array, out: Buffer): number {
  // one output piece, never a concat: chunkSize above the largest accepted output
  const data = inflateSync(zdata, { maxOutputLength: out.length, chunkSize: out.length + 1024 });
  data.copy(out);
  return data.length;
}
