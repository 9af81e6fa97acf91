/**
 * Runs the Lambda entry modules in-process, the way the Lambda service would: each module is
 * imported once, `createHandler(deps)` is called once (a warm container), and every invocation gets
 * a Lambda-like context. Events and results cross a JSON boundary, as they do in the cloud.
 *
 * Errors propagate unchanged, `name` included: Step Functions matches Retry/Catch on it, the way it
 * matches on Lambda's `errorType`.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { GatewayDeps } from '../../shared/runtime/deps';
import { functionNameFromArn, localFunctionArn } from './constants';

export type LocalHandler = (event: unknown, context: LambdaLikeContext) => Promise<unknown>;

export interface LambdaLikeContext {
  callbackWaitsForEmptyEventLoop: boolean;
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  getRemainingTimeInMillis(): number;
  done(error?: Error, result?: unknown): void;
  fail(error: Error | string): void;
  succeed(message: unknown): void;
}

export interface HostedFunction {
  /** Local function name (the template's logical id). */
  name: string;
  /** Entry module relative to `projectRoot` (absent when a handler is registered directly). */
  entry?: string;
  timeoutSeconds?: number;
  memoryMiB?: number;
}

export interface LambdaHostOptions {
  deps: GatewayDeps;
  functions?: Iterable<HostedFunction>;
  /** Directory entry paths are relative to. Default: the project root (two levels above this file). */
  projectRoot?: string;
}

export class FunctionNotFoundError extends Error {
  override name = 'ResourceNotFoundException';
}

interface Slot {
  fn: HostedFunction;
  handler?: Promise<LocalHandler>;
}

const DEFAULT_PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function jsonBoundary(value: unknown): unknown {
  if (value === undefined) return null;
  return JSON.parse(JSON.stringify(value)) as unknown;
}

export class LambdaHost {
  readonly projectRoot: string;
  private readonly deps: GatewayDeps;
  private readonly slots = new Map<string, Slot>();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(opts: LambdaHostOptions) {
    this.deps = opts.deps;
    this.projectRoot = opts.projectRoot ?? DEFAULT_PROJECT_ROOT;
    for (const fn of opts.functions ?? []) this.slots.set(fn.name, { fn });
  }

  /** Hosts a handler directly (tests; functions without an entry module). */
  register(name: string, handler: LocalHandler, fn: Omit<HostedFunction, 'name' | 'entry'> = {}): void {
    this.slots.set(name, { fn: { ...fn, name }, handler: Promise.resolve(handler) });
  }

  has(nameOrArn: string): boolean {
    return this.slots.has(functionNameFromArn(nameOrArn));
  }

  names(): string[] {
    return [...this.slots.keys()];
  }

  /** Imports every entry module and builds its handler now, instead of on first invocation. */
  async preload(): Promise<void> {
    await Promise.all(this.names().map((name) => this.handlerFor(this.slots.get(name)!)));
  }

  /** Invokes a function by name or ARN; resolves with its JSON result or rejects with its error. */
  invoke(nameOrArn: string, event: unknown): Promise<unknown> {
    const run = this.run(nameOrArn, event);
    this.inFlight.add(run);
    const forget = () => this.inFlight.delete(run);
    run.then(forget, forget);
    return run;
  }

  /** Waits for the invocations under way (used on shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  private async run(nameOrArn: string, event: unknown): Promise<unknown> {
    const name = functionNameFromArn(nameOrArn);
    const slot = this.slots.get(name);
    if (!slot) throw new FunctionNotFoundError(`Function not found: ${localFunctionArn(name)}`);
    const handler = await this.handlerFor(slot);
    const context = this.context(slot.fn);
    const result = await handler(jsonBoundary(event), context);
    return jsonBoundary(result);
  }

  private handlerFor(slot: Slot): Promise<LocalHandler> {
    if (slot.handler) return slot.handler;
    const loading = this.load(slot.fn);
    slot.handler = loading;
    // A failed import is not cached: the next invocation tries again (as a new container would).
    loading.catch(() => {
      if (slot.handler === loading) slot.handler = undefined;
    });
    return loading;
  }

  private async load(fn: HostedFunction): Promise<LocalHandler> {
    if (!fn.entry) throw new Error(`function ${fn.name} has no entry module and no registered handler`);
    const file = path.resolve(this.projectRoot, fn.entry);
    if (!existsSync(file)) {
      throw new Error(`function ${fn.name}: entry module ${fn.entry} does not exist (looked for ${file})`);
    }
    const mod = (await import(pathToFileURL(file).href)) as { createHandler?: unknown };
    if (typeof mod.createHandler !== 'function') {
      throw new Error(`function ${fn.name}: ${fn.entry} does not export createHandler(deps)`);
    }
    const handler = (mod.createHandler as (deps: GatewayDeps) => unknown)(this.deps);
    if (typeof handler !== 'function') {
      throw new Error(`function ${fn.name}: createHandler(deps) in ${fn.entry} did not return a function`);
    }
    return handler as LocalHandler;
  }

  private context(fn: HostedFunction): LambdaLikeContext {
    const requestId = randomUUID();
    const deadline = Date.now() + (fn.timeoutSeconds ?? 3) * 1000;
    const unsupported = (what: string) => () => {
      throw new Error(`context.${what}() is not supported: handlers are async`);
    };
    const day = new Date().toISOString().slice(0, 10).replace(/-/g, '/');
    return {
      callbackWaitsForEmptyEventLoop: true,
      functionName: fn.name,
      functionVersion: '$LATEST',
      invokedFunctionArn: localFunctionArn(fn.name),
      memoryLimitInMB: String(fn.memoryMiB ?? 128),
      awsRequestId: requestId,
      logGroupName: `/aws/lambda/${fn.name}`,
      logStreamName: `${day}/[$LATEST]${requestId.replace(/-/g, '')}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: unsupported('done'),
      fail: unsupported('fail'),
      succeed: unsupported('succeed'),
    };
  }
}

/** AWS Lambda's error payload for an error a handler threw (what Step Functions shows as `Cause`). */
export function lambdaErrorPayload(err: unknown): {
  errorType: string;
  errorMessage: string;
  trace: string[];
} {
  if (err instanceof Error) {
    return {
      errorType: err.name || 'Error',
      errorMessage: err.message,
      trace: (err.stack ?? '').split('\n'),
    };
  }
  return { errorType: typeof err === 'string' ? 'string' : 'Error', errorMessage: String(err), trace: [] };
}
