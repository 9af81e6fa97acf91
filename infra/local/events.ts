/**
 * A local EventBridge PutEvents endpoint (JSON 1.1, `X-Amz-Target: AWSEvents.PutEvents`): events
 * are kept in memory and appended to `<stateDir>/events.jsonl`, one JSON object per line.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { appendFile, mkdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { closeServer, listen, readBody, sendJson } from './http-util';

const EVENTS_CONTENT_TYPE = 'application/x-amz-json-1.1';
/** PutEvents total size limit (256 KiB). */
const MAX_REQUEST_ENTRIES_SIZE = 256 * 1024;

/** An event as PutEvents received it (the entry's fields), with the id and time EventBridge gave it. */
export interface RecordedEvent {
  EventId: string;
  /** ISO 8601, the entry's Time or the time it arrived. */
  Time: string;
  Source: string;
  DetailType: string;
  /** The detail as sent: a JSON object in a string. */
  Detail: string;
  /** Bus name (an ARN given as EventBusName is reduced to its name); `default` when absent. */
  EventBusName: string;
  Resources: string[];
}

export interface LocalEventsOptions {
  /** Directory of `events.jsonl`; no file when absent. */
  stateDir?: string;
  port?: number;
}

interface PutEventsEntry {
  Source?: unknown;
  DetailType?: unknown;
  Detail?: unknown;
  EventBusName?: unknown;
  Resources?: unknown;
  Time?: unknown;
}

export class LocalEvents extends EventEmitter {
  url = '';
  port = 0;
  private readonly server: http.Server;
  private readonly recorded: RecordedEvent[] = [];
  private writes: Promise<void> = Promise.resolve();
  readonly file: string | undefined;

  constructor(private readonly opts: LocalEventsOptions = {}) {
    super();
    this.file = opts.stateDir ? path.join(opts.stateDir, 'events.jsonl') : undefined;
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent)
          sendJson(res, 500, { __type: 'InternalException', message: String(err) }, EVENTS_CONTENT_TYPE);
      });
    });
  }

  async start(): Promise<this> {
    if (this.opts.stateDir) await mkdir(this.opts.stateDir, { recursive: true });
    this.port = await listen(this.server, this.opts.port ?? 0);
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  /** Events received so far (optionally only those matching `filter`). */
  list(filter?: { source?: string; detailType?: string; eventBusName?: string }): RecordedEvent[] {
    return this.recorded.filter(
      (e) =>
        (!filter?.source || e.Source === filter.source) &&
        (!filter?.detailType || e.DetailType === filter.detailType) &&
        (!filter?.eventBusName || e.EventBusName === filter.eventBusName),
    );
  }

  /** Resolves with the first event (already received or future) that satisfies `predicate`. */
  waitFor(predicate: (e: RecordedEvent) => boolean): Promise<RecordedEvent> {
    const found = this.recorded.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => {
      const listener = (e: RecordedEvent) => {
        if (!predicate(e)) return;
        this.off('event', listener);
        resolve(e);
      };
      this.on('event', listener);
    });
  }

  /** Records events the way PutEvents does; returns the per-entry results. */
  putEvents(entries: PutEventsEntry[]): {
    FailedEntryCount: number;
    Entries: Array<{ EventId?: string; ErrorCode?: string; ErrorMessage?: string }>;
  } {
    const results = entries.map((entry) => {
      const problem = validateEntry(entry);
      if (problem) return problem;
      const event: RecordedEvent = {
        EventId: randomUUID(),
        Time: eventTime(entry.Time),
        Source: String(entry.Source),
        DetailType: String(entry.DetailType),
        Detail: String(entry.Detail),
        EventBusName: busName(entry.EventBusName),
        Resources: Array.isArray(entry.Resources) ? entry.Resources.map(String) : [],
      };
      this.recorded.push(event);
      this.persist(event);
      this.emit('event', event);
      return { EventId: event.EventId };
    });
    return { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results };
  }

  private persist(event: RecordedEvent): void {
    const file = this.file;
    if (!file) return;
    this.writes = this.writes
      .then(() => appendFile(file, `${JSON.stringify(event)}\n`))
      .catch(() => undefined);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown) => sendJson(res, status, body, EVENTS_CONTENT_TYPE);
    const target = String(req.headers['x-amz-target'] ?? '');
    const raw = await readBody(req);
    if (req.method !== 'POST' || target !== 'AWSEvents.PutEvents') {
      reply(400, {
        __type: 'UnknownOperationException',
        message: `operation ${target || '(none)'} is not supported locally`,
      });
      return;
    }
    let body: { Entries?: unknown };
    try {
      body = JSON.parse(raw.toString('utf8') || '{}') as { Entries?: unknown };
    } catch {
      reply(400, { __type: 'SerializationException', message: 'request body is not JSON' });
      return;
    }
    const entries = body.Entries;
    if (!Array.isArray(entries) || entries.length < 1 || entries.length > 10) {
      reply(400, {
        __type: 'ValidationException',
        message:
          "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and 10",
      });
      return;
    }
    if (raw.length > MAX_REQUEST_ENTRIES_SIZE) {
      reply(400, {
        __type: 'ValidationException',
        message: 'Total size of the entries in the request is over the limit.',
      });
      return;
    }
    reply(200, this.putEvents(entries as PutEventsEntry[]));
  }

  async close(): Promise<void> {
    await closeServer(this.server);
    await this.writes;
  }
}

export async function startEvents(opts: LocalEventsOptions = {}): Promise<LocalEvents> {
  return new LocalEvents(opts).start();
}

function validateEntry(entry: PutEventsEntry): { ErrorCode: string; ErrorMessage: string } | undefined {
  for (const field of ['Source', 'DetailType', 'Detail'] as const) {
    if (typeof entry[field] !== 'string' || entry[field] === '') {
      return {
        ErrorCode: 'InvalidArgument',
        ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.`,
      };
    }
  }
  try {
    const detail = JSON.parse(String(entry.Detail)) as unknown;
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail))
      throw new Error('not an object');
  } catch {
    return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  }
  return undefined;
}

function busName(value: unknown): string {
  if (typeof value !== 'string' || !value) return 'default';
  const arn = /^arn:[^:]+:events:[^:]*:[^:]*:event-bus\/(.+)$/.exec(value);
  return arn?.[1] ?? value;
}

function eventTime(value: unknown): string {
  // The SDK sends Time as epoch seconds.
  if (typeof value === 'number') return new Date(value * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}
