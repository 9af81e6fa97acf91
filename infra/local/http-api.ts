/**
 * A local API Gateway HTTP API: turns HTTP requests into payload-format-2.0 events for the route's
 * function, runs the route's Lambda REQUEST authorizer first (simple responses, identity source
 * `$request.header.Authorization`), and maps the function's result back the way HTTP APIs do.
 *
 * Gateway-made answers are API Gateway's: 401 `Unauthorized` when the identity source is missing
 * (the authorizer is not called), 403 `Forbidden` when it says no, 500 `Internal Server Error` when
 * the authorizer or the integration fails, 404 `Not Found` without a route, 413 past 10 MB.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { LOCAL_ACCOUNT_ID, LOCAL_API_ID, LOCAL_REGION } from './constants';
import { BodyTooLargeError, closeServer, listen, readBody } from './http-util';

export const HTTP_API_BODY_LIMIT = 10 * 1024 * 1024;

export interface HttpApiAuthorizer {
  functionLogicalId: string;
  identitySource: string[];
  simpleResponses: boolean;
}

export interface HttpApiRoute {
  routeKey: string;
  method: string;
  path: string;
  functionLogicalId: string;
  authorizer?: HttpApiAuthorizer;
}

export interface HttpApiOptions {
  routes: HttpApiRoute[];
  /** Invokes a function by logical id; rejects with the function's error. */
  invoke(functionLogicalId: string, event: unknown): Promise<unknown>;
  port?: number;
  bodyLimitBytes?: number;
  /** One line per request (default: nothing). */
  log?: (line: string) => void;
  /** Sees every answer once it is written (tests check them against openapi.json). */
  observe?: (answer: HttpApiAnswer) => void;
}

/** An answer as the client got it, with the route that made it (absent: no route matched). */
export interface HttpApiAnswer {
  method: string;
  path: string;
  routeKey?: string;
  status: number;
  contentType?: string;
  body: Buffer;
}

/** What was written: the status, the content type and the body. */
type Written = Pick<HttpApiAnswer, 'status' | 'contentType' | 'body'>;

interface CompiledRoute {
  route: HttpApiRoute;
  regex: RegExp;
  params: string[];
  greedy: boolean;
  literals: number;
}

interface Match {
  route: HttpApiRoute;
  pathParameters?: Record<string, string>;
}

const TEXT_TYPES = [
  /^text\//,
  /^application\/(json|xml|javascript|x-www-form-urlencoded|graphql)\b/,
  /^application\/[^;]*\+(json|xml)\b/,
];

function compile(route: HttpApiRoute): CompiledRoute {
  if (route.path === '$default') return { route, regex: /^/, params: [], greedy: true, literals: -1 };
  const params: string[] = [];
  let greedy = false;
  let literals = 0;
  const source = route.path
    .split('/')
    .map((segment) => {
      const param = /^\{([^}+]+)(\+)?\}$/.exec(segment);
      if (!param) {
        if (segment) literals++;
        return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      }
      params.push(param[1]!);
      if (param[2]) {
        greedy = true;
        return '(.+)';
      }
      return '([^/]+)';
    })
    .join('/');
  return { route, regex: new RegExp(`^${source}$`), params, greedy, literals };
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function clf(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(
    date.getUTCMinutes(),
  )}:${pad(date.getUTCSeconds())} +0000`;
}

function gatewayMessage(
  res: http.ServerResponse,
  status: number,
  message: string,
  requestId: string,
): Written {
  const body = Buffer.from(JSON.stringify({ message }));
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': body.length,
    'apigw-requestid': requestId,
  });
  res.end(body);
  return { status, contentType: 'application/json', body };
}

export class LocalHttpApi {
  url = '';
  port = 0;
  private readonly server: http.Server;
  private readonly compiled: CompiledRoute[];

  constructor(private readonly opts: HttpApiOptions) {
    this.compiled = opts.routes.map(compile);
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) gatewayMessage(res, 500, 'Internal Server Error', newRequestId());
        else res.destroy();
      });
    });
  }

  async start(): Promise<this> {
    this.port = await listen(this.server, this.opts.port ?? 0);
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  /** The route API Gateway would pick: static paths before parameters, before greedy paths, before `$default`. */
  match(method: string, path: string): Match | undefined {
    const candidates: Array<{ c: CompiledRoute; values: string[] }> = [];
    for (const c of this.compiled) {
      if (c.route.method !== 'ANY' && c.route.method !== method) continue;
      const m = c.regex.exec(path);
      if (m) candidates.push({ c, values: m.slice(1) });
    }
    candidates.sort(
      (a, b) =>
        Number(a.c.route.path === '$default') - Number(b.c.route.path === '$default') ||
        Number(a.c.greedy) - Number(b.c.greedy) ||
        a.c.params.length - b.c.params.length ||
        b.c.literals - a.c.literals ||
        Number(a.c.route.method === 'ANY') - Number(b.c.route.method === 'ANY'),
    );
    const best = candidates[0];
    if (!best) return undefined;
    if (best.c.params.length === 0) return { route: best.c.route };
    return {
      route: best.c.route,
      pathParameters: Object.fromEntries(
        best.c.params.map((name, i) => [name, decode(best.values[i] ?? '')]),
      ),
    };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const requestId = newRequestId();
    const started = new Date();
    const method = (req.method ?? 'GET').toUpperCase();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
    const rawQueryString = q >= 0 ? rawUrl.slice(q + 1) : '';
    const matched: { routeKey?: string } = {};
    const done = (written: Written) => {
      this.opts.log?.(`${method} ${rawPath} ${written.status}`);
      this.opts.observe?.({ method, path: rawPath, ...matched, ...written });
    };

    let body: Buffer;
    try {
      body = await readBody(req, this.opts.bodyLimitBytes ?? HTTP_API_BODY_LIMIT);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        res.setHeader('connection', 'close');
        done(gatewayMessage(res, 413, 'Request Entity Too Large', requestId));
        return;
      }
      throw err;
    }

    const match = this.match(method, decode(rawPath));
    if (!match) {
      done(gatewayMessage(res, 404, 'Not Found', requestId));
      return;
    }
    const { route } = match;
    matched.routeKey = route.routeKey;

    const headers: Record<string, string> = {};
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!.toLowerCase();
      const value = req.rawHeaders[i + 1]!;
      headers[name] = name in headers ? `${headers[name]},${value}` : value;
    }
    const cookies = headers.cookie ? headers.cookie.split(/;\s*/).filter(Boolean) : undefined;
    delete headers.cookie;
    const query = new URLSearchParams(rawQueryString);
    const queryStringParameters: Record<string, string> = {};
    for (const [key, value] of query) {
      queryStringParameters[key] =
        key in queryStringParameters ? `${queryStringParameters[key]},${value}` : value;
    }
    const host = headers.host ?? `127.0.0.1:${this.port}`;
    const requestContext = {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: LOCAL_API_ID,
      domainName: host,
      domainPrefix: host.split('.')[0] ?? host,
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: route.routeKey,
      stage: '$default',
      time: clf(started),
      timeEpoch: started.getTime(),
    };
    const common = {
      routeKey: route.routeKey,
      rawPath,
      rawQueryString,
      ...(cookies ? { cookies } : {}),
      headers,
      ...(rawQueryString ? { queryStringParameters } : {}),
      ...(match.pathParameters ? { pathParameters: match.pathParameters } : {}),
    };

    let authorizerContext: unknown;
    if (route.authorizer) {
      const outcome = await this.authorize(
        route,
        method,
        rawPath,
        headers,
        queryStringParameters,
        common,
        requestContext,
      );
      if ('message' in outcome) {
        done(gatewayMessage(res, outcome.status, outcome.message, requestId));
        return;
      }
      authorizerContext = outcome.context;
    }

    const isText =
      body.length === 0 || TEXT_TYPES.some((t) => t.test((headers['content-type'] ?? '').toLowerCase()));
    const event = {
      version: '2.0',
      ...common,
      requestContext: {
        ...requestContext,
        ...(route.authorizer ? { authorizer: { lambda: authorizerContext ?? null } } : {}),
      },
      ...(body.length > 0 ? { body: isText ? body.toString('utf8') : body.toString('base64') } : {}),
      isBase64Encoded: !isText,
    };

    let result: unknown;
    try {
      result = await this.opts.invoke(route.functionLogicalId, event);
    } catch {
      done(gatewayMessage(res, 500, 'Internal Server Error', requestId));
      return;
    }
    done(writeResult(res, result, requestId));
  }

  private async authorize(
    route: HttpApiRoute,
    method: string,
    rawPath: string,
    headers: Record<string, string>,
    query: Record<string, string>,
    common: Record<string, unknown>,
    requestContext: Record<string, unknown>,
  ): Promise<{ status: 200; context: unknown } | { status: 401 | 403 | 500; message: string }> {
    const authorizer = route.authorizer!;
    const identitySource: string[] = [];
    for (const source of authorizer.identitySource) {
      const header = /^\$request\.header\.(.+)$/i.exec(source);
      const param = /^\$request\.querystring\.(.+)$/i.exec(source);
      const value = header ? headers[header[1]!.toLowerCase()] : param ? query[param[1]!] : undefined;
      if (value === undefined || value === '') return { status: 401, message: 'Unauthorized' };
      identitySource.push(value);
    }
    const event = {
      version: '2.0',
      type: 'REQUEST',
      routeArn: `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${LOCAL_API_ID}/$default/${method}${rawPath}`,
      identitySource,
      ...common,
      requestContext,
    };
    let result: unknown;
    try {
      result = await this.opts.invoke(authorizer.functionLogicalId, event);
    } catch {
      return { status: 500, message: 'Internal Server Error' };
    }
    const answer = (result ?? {}) as {
      isAuthorized?: unknown;
      context?: unknown;
      policyDocument?: { Statement?: Array<{ Effect?: string }> };
    };
    if (authorizer.simpleResponses) {
      if (typeof answer.isAuthorized !== 'boolean') return { status: 500, message: 'Internal Server Error' };
      return answer.isAuthorized
        ? { status: 200, context: answer.context }
        : { status: 403, message: 'Forbidden' };
    }
    const statements = answer.policyDocument?.Statement;
    if (!Array.isArray(statements)) return { status: 500, message: 'Internal Server Error' };
    const allowed =
      statements.some((s) => s.Effect === 'Allow') && !statements.some((s) => s.Effect === 'Deny');
    return allowed ? { status: 200, context: answer.context } : { status: 403, message: 'Forbidden' };
  }
}

/** Maps a 2.0 integration result to the HTTP response; returns what was written. */
function writeResult(res: http.ServerResponse, result: unknown, requestId: string): Written {
  const formal =
    typeof result === 'object' && result !== null && !Array.isArray(result) && 'statusCode' in result
      ? (result as {
          statusCode: unknown;
          headers?: unknown;
          cookies?: unknown;
          body?: unknown;
          isBase64Encoded?: unknown;
        })
      : undefined;
  if (!formal) {
    // No statusCode: API Gateway assumes 200, application/json, and the result as the body.
    const body = Buffer.from(typeof result === 'string' ? result : JSON.stringify(result ?? null));
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': body.length,
      'apigw-requestid': requestId,
    });
    res.end(body);
    return { status: 200, contentType: 'application/json', body };
  }
  const status = Number(formal.statusCode);
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    return gatewayMessage(res, 500, 'Internal Server Error', requestId);
  }
  const body =
    formal.body === undefined || formal.body === null
      ? Buffer.alloc(0)
      : formal.isBase64Encoded === true
        ? Buffer.from(String(formal.body), 'base64')
        : Buffer.from(typeof formal.body === 'string' ? formal.body : JSON.stringify(formal.body));
  const headers: Record<string, string | string[]> = {};
  if (formal.headers && typeof formal.headers === 'object') {
    for (const [name, value] of Object.entries(formal.headers as Record<string, unknown>)) {
      headers[name.toLowerCase()] = String(value);
    }
  }
  if (Array.isArray(formal.cookies) && formal.cookies.length > 0)
    headers['set-cookie'] = formal.cookies.map(String);
  headers['content-length'] = String(body.length);
  headers['apigw-requestid'] = requestId;
  res.writeHead(status, headers);
  res.end(body);
  const contentType = headers['content-type'];
  return { status, ...(typeof contentType === 'string' ? { contentType } : {}), body };
}

function newRequestId(): string {
  return randomBytes(10).toString('base64').replace(/=+$/, '=');
}

export async function startHttpApi(opts: HttpApiOptions): Promise<LocalHttpApi> {
  return new LocalHttpApi(opts).start();
}
