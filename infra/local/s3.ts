/**
 * Local S3: s3rver, with the multipart operations it lacks or gets wrong answered in front of it.
 *
 * s3rver 3.7 answers ListParts and AbortMultipartUpload with 405 and ListMultipartUploads with 501;
 * it completes an upload without checking the parts (missing part, wrong ETag, order, 5 MiB
 * minimum) and returns a whole-object MD5 as the ETag; and it answers UploadPart before the part is
 * flushed to disk. This front answers those five operations itself, over s3rver's own files, the way
 * S3 does (errors included), and passes everything else to s3rver.
 *
 * Like s3rver, it checks the access key (`S3RVER`) and the expiry of presigned URLs; neither checks
 * SigV4 signatures.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LOCAL_CREDENTIALS } from './constants';
import { closeServer, listen, readBody } from './http-util';

/** S3's minimum size of every part but the last. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PART_NUMBER = 10_000;

interface S3rverStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, unknown>, md5: string): Promise<void>;
  getBucket(bucket: string): Promise<unknown>;
}
interface S3rverInstance {
  store: S3rverStore;
  configureBuckets(): Promise<void>;
  callback(): http.RequestListener;
  logger?: { close?: () => void };
}
type S3rverCtor = new (options: Record<string, unknown>) => S3rverInstance;

export interface LocalS3Options {
  /** s3rver's data directory. */
  directory: string;
  /** Buckets created (if missing) before the server listens. */
  buckets?: string[];
  port?: number;
}

class S3Failure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const xmlEscape = (s: string) =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
const xmlUnescape = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';
const XMLNS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';

function sendXml(
  res: http.ServerResponse,
  status: number,
  xml: string,
  headers: Record<string, string> = {},
): void {
  const body = XML_HEAD + xml;
  res.writeHead(status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function sendError(res: http.ServerResponse, err: S3Failure, resource: string): void {
  sendXml(
    res,
    err.status,
    `<Error><Code>${err.code}</Code><Message>${xmlEscape(err.message)}</Message><Resource>${xmlEscape(resource)}</Resource></Error>`,
  );
}

/** `20240102T030405Z` → Date */
function amzDate(text: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return new Date(NaN);
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

/** The checks s3rver itself makes: known access key, unexpired presigned URL. */
function checkAuth(req: http.IncomingMessage, query: URLSearchParams): void {
  const credential =
    query.get('X-Amz-Credential') ?? /Credential=([^,\s]+)/.exec(req.headers.authorization ?? '')?.[1];
  if (credential === undefined) return; // anonymous, as s3rver allows
  const accessKeyId = credential.split('/')[0];
  if (accessKeyId !== LOCAL_CREDENTIALS.accessKeyId) {
    throw new S3Failure(
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
      403,
    );
  }
  if (query.has('X-Amz-Algorithm')) {
    const signedAt = amzDate(query.get('X-Amz-Date') ?? '');
    const expires = Number(query.get('X-Amz-Expires') ?? NaN);
    if (Number.isNaN(signedAt.getTime()) || !Number.isFinite(expires)) {
      throw new S3Failure(
        'AuthorizationQueryParametersError',
        'X-Amz-Date and X-Amz-Expires are required',
        400,
      );
    }
    if (signedAt.getTime() + expires * 1000 < Date.now()) {
      throw new S3Failure('AccessDenied', 'Request has expired', 403);
    }
  }
}

interface Target {
  bucket: string;
  key: string;
  query: URLSearchParams;
}

export class LocalS3 {
  url = '';
  port = 0;
  private readonly server: http.Server;
  private readonly s3rver: S3rverInstance;

  constructor(private readonly opts: LocalS3Options) {
    const S3rver = createRequire(import.meta.url)('s3rver') as S3rverCtor;
    this.s3rver = new S3rver({
      silent: true,
      directory: opts.directory,
      configureBuckets: (opts.buckets ?? []).map((name) => ({ name })),
    });
    const passOn = this.s3rver.callback();
    this.server = http.createServer((req, res) => {
      const op = this.intercept(req);
      if (!op) {
        passOn(req, res);
        return;
      }
      op(req, res).catch((err: unknown) => {
        const failure =
          err instanceof S3Failure
            ? err
            : new S3Failure('InternalError', `We encountered an internal error: ${String(err)}`, 500);
        req.resume();
        if (!res.headersSent) sendError(res, failure, req.url ?? '');
        else res.destroy();
      });
    });
  }

  async start(): Promise<this> {
    await mkdir(this.opts.directory, { recursive: true });
    await this.s3rver.configureBuckets();
    this.port = await listen(this.server, this.opts.port ?? 0);
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  async close(): Promise<void> {
    await closeServer(this.server);
    this.s3rver.logger?.close?.();
  }

  /** The operation this front answers for a request, or undefined to pass it to s3rver. */
  private intercept(
    req: http.IncomingMessage,
  ): ((req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>) | undefined {
    const url = new URL(req.url ?? '/', 'http://local');
    const [, bucket = '', ...rest] = url.pathname.split('/');
    if (!bucket) return undefined;
    const key = rest.length ? decodeURIComponent(rest.join('/')) : '';
    const target: Target = { bucket: decodeURIComponent(bucket), key, query: url.searchParams };
    const q = url.searchParams;
    const method = req.method ?? 'GET';
    if (!key) {
      return method === 'GET' && q.has('uploads')
        ? (_rq, rs) => this.listUploads(_rq, rs, target)
        : undefined;
    }
    if (!q.has('uploadId')) return undefined;
    if (method === 'GET') return (rq, rs) => this.listParts(rq, rs, target);
    if (method === 'DELETE') return (rq, rs) => this.abort(rq, rs, target);
    if (method === 'POST') return (rq, rs) => this.complete(rq, rs, target);
    if (method === 'PUT' && q.has('partNumber') && !req.headers['x-amz-copy-source']) {
      return (rq, rs) => this.uploadPart(rq, rs, target);
    }
    return undefined;
  }

  private uploadsDir(bucket: string): string {
    return this.s3rver.store.getResourcePath(bucket, undefined, 'uploads');
  }

  /** The upload's directory, after checking the bucket, the upload id and that it belongs to `key`. */
  private async uploadDir(t: Target): Promise<string> {
    if (!(await this.s3rver.store.getBucket(t.bucket))) {
      throw new S3Failure('NoSuchBucket', 'The specified bucket does not exist', 404);
    }
    const uploadId = t.query.get('uploadId') ?? '';
    const noSuchUpload = new S3Failure(
      'NoSuchUpload',
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
      404,
    );
    if (!/^[0-9a-f]{32}$/.test(uploadId)) throw noSuchUpload;
    const dir = path.join(this.uploadsDir(t.bucket), uploadId);
    const key = await readFile(path.join(dir, 'key'), 'utf8').catch(() => undefined);
    if (key !== t.key) throw noSuchUpload;
    return dir;
  }

  private async parts(
    dir: string,
  ): Promise<Array<{ number: number; etag: string; size: number; modified: Date }>> {
    const names = (await readdir(dir)).filter((n) => /^\d+$/.test(n));
    const parts = await Promise.all(
      names.map(async (n) => {
        const [info, etag] = await Promise.all([
          stat(path.join(dir, n)),
          readFile(path.join(dir, `${n}.md5`), 'utf8'),
        ]);
        return { number: Number(n), etag: etag.trim(), size: info.size, modified: info.mtime };
      }),
    );
    return parts.sort((a, b) => a.number - b.number);
  }

  private async uploadPart(req: http.IncomingMessage, res: http.ServerResponse, t: Target): Promise<void> {
    checkAuth(req, t.query);
    const dir = await this.uploadDir(t);
    const partNumber = Number(t.query.get('partNumber'));
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      req.resume();
      throw new S3Failure(
        'InvalidArgument',
        'Part number must be an integer between 1 and 10000, inclusive',
        400,
      );
    }
    const md5 = createHash('md5');
    const tmp = path.join(dir, `${partNumber}.${process.pid}.${Date.now()}.tmp`);
    await pipeline(
      req,
      new Transform({
        transform(chunk: Buffer, _enc, done) {
          md5.update(chunk);
          done(null, chunk);
        },
      }),
      createWriteStream(tmp),
    );
    const digest = md5.digest();
    const declared = req.headers['content-md5'];
    if (typeof declared === 'string' && declared !== digest.toString('base64')) {
      await rm(tmp, { force: true });
      throw new S3Failure('BadDigest', 'The Content-MD5 you specified did not match what we received.', 400);
    }
    const hex = digest.toString('hex');
    await rename(tmp, path.join(dir, String(partNumber)));
    await writeFile(path.join(dir, `${partNumber}.md5`), hex);
    res.writeHead(200, { etag: `"${hex}"`, 'content-length': 0 });
    res.end();
  }

  private async listParts(req: http.IncomingMessage, res: http.ServerResponse, t: Target): Promise<void> {
    checkAuth(req, t.query);
    const dir = await this.uploadDir(t);
    const marker = Number(t.query.get('part-number-marker') ?? 0) || 0;
    const maxParts = Math.min(Number(t.query.get('max-parts') ?? 1000) || 1000, 1000);
    const all = (await this.parts(dir)).filter((p) => p.number > marker);
    const page = all.slice(0, maxParts);
    const truncated = all.length > page.length;
    const uploadId = t.query.get('uploadId')!;
    sendXml(
      res,
      200,
      `<ListPartsResult ${XMLNS}><Bucket>${xmlEscape(t.bucket)}</Bucket><Key>${xmlEscape(t.key)}</Key>` +
        `<UploadId>${uploadId}</UploadId><PartNumberMarker>${marker}</PartNumberMarker>` +
        `<NextPartNumberMarker>${page.at(-1)?.number ?? marker}</NextPartNumberMarker>` +
        `<MaxParts>${maxParts}</MaxParts><IsTruncated>${truncated}</IsTruncated>` +
        page
          .map(
            (p) =>
              `<Part><PartNumber>${p.number}</PartNumber><LastModified>${p.modified.toISOString()}</LastModified>` +
              `<ETag>&quot;${p.etag}&quot;</ETag><Size>${p.size}</Size></Part>`,
          )
          .join('') +
        `<StorageClass>STANDARD</StorageClass></ListPartsResult>`,
    );
  }

  private async abort(req: http.IncomingMessage, res: http.ServerResponse, t: Target): Promise<void> {
    checkAuth(req, t.query);
    const dir = await this.uploadDir(t);
    await rm(dir, { recursive: true, force: true });
    res.writeHead(204);
    res.end();
  }

  private async listUploads(req: http.IncomingMessage, res: http.ServerResponse, t: Target): Promise<void> {
    checkAuth(req, t.query);
    if (!(await this.s3rver.store.getBucket(t.bucket))) {
      throw new S3Failure('NoSuchBucket', 'The specified bucket does not exist', 404);
    }
    const prefix = t.query.get('prefix') ?? '';
    const root = this.uploadsDir(t.bucket);
    const ids = await readdir(root).catch(() => [] as string[]);
    const uploads = (
      await Promise.all(
        ids.map(async (id) => {
          const key = await readFile(path.join(root, id, 'key'), 'utf8').catch(() => undefined);
          const info = await stat(path.join(root, id)).catch(() => undefined);
          return key !== undefined && info ? { id, key, initiated: info.birthtime } : undefined;
        }),
      )
    )
      .filter((u): u is { id: string; key: string; initiated: Date } => !!u && u.key.startsWith(prefix))
      .sort((a, b) => a.key.localeCompare(b.key) || a.id.localeCompare(b.id));
    sendXml(
      res,
      200,
      `<ListMultipartUploadsResult ${XMLNS}><Bucket>${xmlEscape(t.bucket)}</Bucket><KeyMarker></KeyMarker>` +
        `<UploadIdMarker></UploadIdMarker><Prefix>${xmlEscape(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>` +
        uploads
          .map(
            (u) =>
              `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.id}</UploadId>` +
              `<Initiated>${u.initiated.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`,
          )
          .join('') +
        `</ListMultipartUploadsResult>`,
    );
  }

  private async complete(req: http.IncomingMessage, res: http.ServerResponse, t: Target): Promise<void> {
    checkAuth(req, t.query);
    const body = (await readBody(req, 10 * 1024 * 1024)).toString('utf8');
    const dir = await this.uploadDir(t);
    const requested = [...body.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((m) => ({
      number: Number(/<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(m[1]!)?.[1] ?? NaN),
      etag: xmlUnescape(/<ETag>([\s\S]*?)<\/ETag>/.exec(m[1]!)?.[1] ?? '').replace(/"/g, ''),
    }));
    if (requested.length === 0 || requested.some((p) => !Number.isInteger(p.number))) {
      throw new S3Failure(
        'MalformedXML',
        'The XML you provided was not well-formed or did not validate against our published schema.',
        400,
      );
    }
    for (let i = 1; i < requested.length; i++) {
      if (requested[i]!.number <= requested[i - 1]!.number) {
        throw new S3Failure(
          'InvalidPartOrder',
          'The list of parts was not in ascending order. Parts must be ordered by part number.',
          400,
        );
      }
    }
    const stored = new Map((await this.parts(dir)).map((p) => [p.number, p]));
    requested.forEach((p, i) => {
      const part = stored.get(p.number);
      if (!part || part.etag !== p.etag) {
        throw new S3Failure(
          'InvalidPart',
          `One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag. (part ${p.number})`,
          400,
        );
      }
      if (i < requested.length - 1 && part.size < MIN_PART_SIZE) {
        throw new S3Failure(
          'EntityTooSmall',
          `Your proposed upload is smaller than the minimum allowed object size. (part ${p.number})`,
          400,
        );
      }
    });
    // S3's multipart ETag: MD5 of the parts' binary MD5s, then `-<count>`.
    const etag = `${createHash('md5')
      .update(Buffer.concat(requested.map((p) => Buffer.from(p.etag, 'hex'))))
      .digest('hex')}-${requested.length}`;
    // Assembled here (not by s3rver) so the object is on disk before the answer goes out.
    const store = this.s3rver.store;
    const objectPath = store.getResourcePath(t.bucket, t.key, 'object');
    await mkdir(path.dirname(objectPath), { recursive: true });
    const tmp = `${objectPath}.${process.pid}.${Date.now()}.tmp`;
    // One handle, parts appended chunk by chunk (a pipeline per part into one stream would leave
    // its listeners on the stream: Node warns past ten parts).
    const out = await open(tmp, 'w');
    try {
      for (const p of requested) {
        for await (const chunk of createReadStream(path.join(dir, String(p.number)))) {
          await out.write(chunk as Buffer);
        }
      }
    } finally {
      await out.close();
    }
    const metadata = JSON.parse(await readFile(path.join(dir, 'metadata'), 'utf8')) as Record<
      string,
      unknown
    >;
    await rename(tmp, objectPath);
    await store.putMetadata(t.bucket, t.key, metadata, etag);
    await rm(dir, { recursive: true, force: true });
    const location = `${this.url}/${encodeURIComponent(t.bucket)}/${t.key.split('/').map(encodeURIComponent).join('/')}`;
    sendXml(
      res,
      200,
      `<CompleteMultipartUploadResult ${XMLNS}><Location>${xmlEscape(location)}</Location><Bucket>${xmlEscape(t.bucket)}</Bucket>` +
        `<Key>${xmlEscape(t.key)}</Key><ETag>&quot;${etag}&quot;</ETag></CompleteMultipartUploadResult>`,
    );
  }
}

export async function startS3(opts: LocalS3Options): Promise<LocalS3> {
  return new LocalS3(opts).start();
}
