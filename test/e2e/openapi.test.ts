/**
 * GET /openapi.json on the embedded deployment: behind the authorizer like every route, it answers
 * the committed document; and the test gateway's answer check really runs (an answer that breaks
 * the document is reported).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApi, startTestGateway, type TestGateway } from '../helpers/embedded';
import { ROOT } from '../helpers/synth';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ azure: false });
});
afterAll(async () => {
  await gw?.close();
});

describe('GET /openapi.json', () => {
  it('answers the committed openapi.json to any valid key', async () => {
    // Prepare
    const committed = JSON.parse(await readFile(join(ROOT, 'openapi.json'), 'utf8')) as Record<
      string,
      unknown
    >;

    // Act
    const answer = await callApi(gw, 'GET', '/openapi.json');

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(committed);
    expect(Object.keys(answer.body.paths as object)).toContain('/openapi.json');
  });

  it('is behind the authorizer: no key is 401, an unknown key 403, both as the document says', async () => {
    // Act
    const missing = await fetch(`${gw.apiUrl}/openapi.json`);
    const wrong = await fetch(`${gw.apiUrl}/openapi.json`, {
      headers: { authorization: 'Bearer bg_thisIsNotTheKeyThisIsNotTheKeyThisIsNotTh' },
    });

    // Assess
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ message: 'Unauthorized' });
    expect(wrong.status).toBe(403);
    expect(gw.openApiViolations).toEqual([]);
  });

  it('checks every answer against the document: a problem of a route reports nothing, a swapped body is reported', async () => {
    // Prepare: a second gateway whose GET /offloads/{id} answers something the document does not allow
    const other = await startTestGateway({ azure: false });
    const jobId = 'job-01jz0000000000000000000000';
    const real = other.lambdas.invoke.bind(other.lambdas);
    other.lambdas.invoke = async (fn: string, event: unknown) =>
      fn === 'FnApiGetOffload'
        ? { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"jobId":1}' }
        : real(fn, event);

    // Act
    const notFound = await callApi(gw, 'GET', `/offloads/${jobId}`);
    const broken = await callApi(other, 'GET', `/offloads/${jobId}`);
    const violations = [...other.openApiViolations];
    const closed = await other.close().then(
      () => undefined,
      (err: Error) => err.message,
    );

    // Assess
    expect(notFound.status).toBe(404);
    expect(gw.openApiViolations).toEqual([]);
    expect(broken.status).toBe(200);
    expect(violations).toEqual(
      expect.arrayContaining([
        expect.stringContaining("GET /offloads/{id} → 200: (body) must have required property 'vmName'"),
        expect.stringContaining('GET /offloads/{id} → 200: /jobId must be string'),
      ]),
    );
    expect(closed).toContain('do not match openapi.json');
  });
});
