/**
 * The OpenAPI document: the committed openapi.json is what the schemas generate, it has one
 * operation per route of the stack (ROUTES and the synthesized template), every operation says
 * what it answers, and GET /openapi.json serves that very file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../../infra/constructs/api';
import { ROUTE_SCOPES } from '../../../shared/domain/tenants';
import { createHandler } from '../../../lambdas/api/get-openapi';
import { openApiDocument } from '../../../shared/domain/openapi';
import { OPENAPI_FILE, renderOpenApi } from '../../../scripts/openapi';
import { fakeDeps } from '../../helpers/fake-deps';
import { ROOT, resourcesOfType, synthesized } from '../../helpers/synth';

type Operation = {
  operationId?: string;
  parameters?: Array<{ in: string; name: string; required?: boolean }>;
  requestBody?: { required?: boolean; content: Record<string, unknown> };
  responses: Record<string, { content?: Record<string, unknown> }>;
  security?: unknown;
};
type Document = {
  openapi: string;
  info: { version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, Record<string, unknown>> };
  security: Array<Record<string, unknown>>;
};

const committed = (): Document => JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as Document;
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function operationsOf(doc: Document): Array<{ key: string; op: Operation; path: string }> {
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op, path })),
  );
}

describe('openapi.json', () => {
  it('is exactly what the schemas generate now (run `npm run openapi` after changing them)', async () => {
    // Act
    const text = await renderOpenApi();

    // Assess
    expect(readFileSync(OPENAPI_FILE, 'utf8')).toBe(text);
    expect(committed()).toEqual(openApiDocument(version));
    expect(text.endsWith('}\n')).toBe(true);
  });

  it('has one operation per route: ROUTES, the synthesized template and the document agree', () => {
    // Prepare
    const routes = resourcesOfType(synthesized().template, 'AWS::ApiGatewayV2::Route');

    // Act
    const inRoutes = ROUTES.map((r) => `${r.method} ${r.path}`).sort();
    const inTemplate = Object.values(routes)
      .map((r) => String(r.Properties.RouteKey))
      .sort();
    const inDocument = operationsOf(committed())
      .map((o) => o.key)
      .sort();

    // Assess
    expect(inDocument).toEqual(inRoutes);
    expect(inTemplate).toEqual(inRoutes);
    expect(new Set(inRoutes).size).toBe(ROUTES.length);
  });

  it('names the scope of every route the handlers check (ROUTE_SCOPES), and scope-missing among its 403s', () => {
    // Act
    const scoped = Object.keys(ROUTE_SCOPES).sort();
    const document = committed() as unknown as {
      paths: Record<
        string,
        Record<string, { description: string; responses: Record<string, { description: string }> }>
      >;
    };
    // Assess
    expect(scoped).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    for (const [key, scope] of Object.entries(ROUTE_SCOPES)) {
      const [method, path] = key.split(' ') as [string, string];
      const op = document.paths[path]![method.toLowerCase()]!;
      if (scope) {
        expect(op.description, key).toContain(`the scope \`${scope}\``);
        expect(op.responses['403']!.description, key).toContain('`scope-missing`');
      } else {
        expect(op.description, key).toContain('Any valid API key');
      }
    }
  });

  it('is OpenAPI 3.1 with the bearer key scheme required everywhere', () => {
    // Act
    const doc = committed();

    // Assess
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toBe(version);
    expect(Object.values(doc.components.securitySchemes)).toEqual([
      expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    ]);
    expect(doc.security).toEqual([{ [Object.keys(doc.components.securitySchemes)[0]!]: [] }]);
    for (const { key, op } of operationsOf(doc)) expect(op.security, key).toBeUndefined();
  });

  it('documents path parameters, the success body and the error answers of every operation', () => {
    // Act
    const ops = operationsOf(committed());

    // Assess
    for (const { key, op, path } of ops) {
      const pathParams = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      const declared = (op.parameters ?? []).filter((p) => p.in === 'path');
      expect(
        declared.map((p) => p.name),
        key,
      ).toEqual(pathParams);
      for (const p of declared) expect(p.required, `${key} ${p.name}`).toBe(true);
      expect(op.operationId, key).toMatch(/^[a-z][A-Za-z]+$/);
      const success = Object.keys(op.responses).filter((s) => s.startsWith('2'));
      expect(success.length, key).toBeGreaterThan(0);
      for (const s of success)
        expect(Object.keys(op.responses[s]?.content ?? {}), key).toEqual(['application/json']);
      for (const status of ['401', '403', '429', '500'])
        expect(op.responses[status], `${key} ${status}`).toBeDefined();
      expect(Object.keys(op.responses['500']?.content ?? {}), key).toContain('application/problem+json');
      // a PUT makes what its path names (PUT /budgets/{tenant}): nothing there to be missing
      if (pathParams.length && !key.startsWith('PUT '))
        expect(Object.keys(op.responses['404']?.content ?? {}), key).toEqual(['application/problem+json']);
      if (op.requestBody) {
        expect(Object.keys(op.requestBody.content), key).toEqual(['application/json']);
        for (const status of ['400', '413', '415'])
          expect(op.responses[status], `${key} ${status}`).toBeDefined();
      }
    }
    expect(ops.filter((o) => o.op.requestBody?.required).map((o) => o.key)).toEqual([
      'PUT /budgets/{tenant}',
      'POST /offloads',
      'PATCH /offloads/{id}',
      'POST /offloads/{id}/upload-complete',
      'POST /quotes',
      'POST /schedules',
      'PATCH /schedules/{id}',
      'POST /schedules/{id}/prestage',
      'POST /webhooks',
    ]);
  });

  it('asks POST /offloads for its Idempotency-Key header and says a replay answers Idempotent-Replayed', () => {
    // Act
    const op = committed().paths['/offloads']?.post;
    const headers = (op?.parameters ?? []).filter((p) => p.in === 'header');
    const answer = op?.responses['202'] as { headers?: Record<string, unknown> } | undefined;

    // Assess
    expect(headers).toEqual([expect.objectContaining({ name: 'Idempotency-Key', required: true })]);
    expect(Object.keys(answer?.headers ?? {}).sort()).toEqual(['Idempotent-Replayed', 'Location']);
    expect(op?.responses['409']).toBeDefined();
  });

  it('is what GET /openapi.json answers', async () => {
    // Prepare
    const handler = createHandler({
      ...fakeDeps().deps,
      logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
    });
    const event = {
      version: '2.0',
      routeKey: 'GET /openapi.json',
      rawPath: '/openapi.json',
      rawQueryString: '',
      headers: {},
      isBase64Encoded: false,
      requestContext: {
        requestId: 'req-1',
        http: { method: 'GET', path: '/openapi.json' },
        // a key without any scope: the document needs none
        authorizer: { lambda: { tenant: 'team-a', keyId: 'key-1', scopes: '', keyLabel: 'ci' } },
      },
    };

    // Act
    const res = await handler(event as never, {} as never);

    // Assess
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['content-type']).toBe('application/json');
    expect(JSON.parse(String(res.body))).toEqual(committed());
  });
});
