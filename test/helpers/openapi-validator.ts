/**
 * Checks HTTP API answers against the committed openapi.json (JSON Schema 2020-12, as OpenAPI 3.1
 * says, with ajv): the status must be documented for the operation, the content type one of the
 * response's, and the body valid against its schema. The embedded test gateway runs every answer
 * through it (test/helpers/embedded.ts), so each e2e exchange checks the document too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

const ROOT = join(import.meta.dirname, '..', '..');
const DOC_ID = 'https://burstgate.dev/openapi.json';

type Responses = Record<string, { content?: Record<string, { schema?: unknown }> }>;
interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Responses }>>;
}

export interface ApiAnswer {
  method: string;
  /** The path as requested (`/offloads/job-…`), or the route's template (`/offloads/{id}`). */
  path: string;
  status: number;
  /** The Content-Type header (parameters ignored). */
  contentType?: string;
  /** The parsed JSON body (undefined: empty). */
  body: unknown;
}

/** A JSON Pointer token (RFC 6901). */
const pointer = (token: string) => token.replace(/~/g, '~0').replace(/\//g, '~1');

// ajv-formats is CommonJS: its default export arrives as the module or as its `default`.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv2020,
) => Ajv2020;

export class OpenApiValidator {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();
  /** Path templates, the static ones first (as API Gateway picks a route). */
  private readonly templates: Array<{ template: string; regex: RegExp; params: number }>;

  constructor(readonly doc: OpenApiDocument = readDocument()) {
    // strict off: OpenAPI's own keywords (discriminator, example) are not JSON Schema's
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addSchema(doc as object, DOC_ID);
    this.templates = Object.keys(doc.paths)
      .map((template) => ({
        template,
        regex: new RegExp(
          `^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`,
        ),
        params: (template.match(/\{/g) ?? []).length,
      }))
      .sort((a, b) => a.params - b.params);
  }

  /** The operation's path template for a requested path (undefined: no operation has it). */
  templateOf(method: string, path: string): string | undefined {
    const m = method.toLowerCase();
    if (this.doc.paths[path]?.[m]) return path;
    return this.templates.find((t) => t.regex.test(path) && this.doc.paths[t.template]?.[m])?.template;
  }

  /** What is wrong with the answer, one message per problem; empty when it is as documented. */
  check(answer: ApiAnswer): string[] {
    const method = answer.method.toLowerCase();
    const where = `${answer.method.toUpperCase()} ${answer.path} → ${answer.status}`;
    const template = this.templateOf(method, answer.path);
    if (!template) return [`${where}: no such operation in openapi.json`];
    const responses = this.doc.paths[template]?.[method]?.responses ?? {};
    const status = String(answer.status) in responses ? String(answer.status) : 'default';
    const response = responses[status];
    if (!response)
      return [`${where}: status ${answer.status} is not documented for ${method.toUpperCase()} ${template}`];
    const content = response.content ?? {};
    if (Object.keys(content).length === 0) {
      return answer.body === undefined ? [] : [`${where}: the answer has a body, the document none`];
    }
    const mediaType = (answer.contentType ?? '').split(';')[0]!.trim().toLowerCase();
    if (!(mediaType in content)) {
      return [`${where}: content type '${mediaType}' is not one of ${Object.keys(content).join(', ')}`];
    }
    const validate = this.validator(template, method, status, mediaType);
    if (validate(answer.body)) return [];
    return (validate.errors ?? []).map(
      (e) =>
        `${where}: ${e.instancePath || '(body)'} ${e.message ?? 'is not valid'}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
    );
  }

  private validator(template: string, method: string, status: string, mediaType: string): ValidateFunction {
    const ref = `${DOC_ID}#/paths/${pointer(template)}/${method}/responses/${status}/content/${pointer(mediaType)}/schema`;
    let validate = this.compiled.get(ref);
    if (!validate) {
      validate = this.ajv.compile({ $ref: ref });
      this.compiled.set(ref, validate);
    }
    return validate;
  }
}

function readDocument(): OpenApiDocument {
  return JSON.parse(readFileSync(join(ROOT, 'openapi.json'), 'utf8')) as OpenApiDocument;
}

/** Parses an answer's body as the validator takes it: JSON, or undefined when empty. */
export function parsedBody(body: Buffer | string): unknown {
  const text = body.toString();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
