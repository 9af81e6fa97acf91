/** The e2e answer validator (test/helpers/openapi-validator.ts) accepts what the document says and nothing else. */
import { describe, expect, it } from 'vitest';
import { OpenApiValidator } from '../../helpers/openapi-validator';
import { jobView } from '../../helpers/job-view';

const validator = new OpenApiValidator();
const JOB = 'job-01jz0000000000000000000000';
const problem = {
  type: 'https://burstgate.dev/problems/job-not-found',
  title: 'No such job',
  status: 404,
  detail: `No offload job with id '${JOB}' exists`,
  instance: `/offloads/${JOB}`,
};

describe('OpenApiValidator', () => {
  it('accepts a job view, a problem and an API Gateway message where the document has them', () => {
    // Act
    const answers = [
      {
        method: 'GET',
        path: `/offloads/${JOB}`,
        status: 200,
        contentType: 'application/json',
        body: jobView(),
      },
      {
        method: 'GET',
        path: `/offloads/${JOB}`,
        status: 404,
        contentType: 'application/problem+json',
        body: problem,
      },
      {
        method: 'DELETE',
        path: '/schedules/weekend',
        status: 403,
        contentType: 'application/json',
        body: { message: 'Forbidden' },
      },
      {
        method: 'GET',
        path: '/schedules/preview',
        status: 400,
        contentType: 'application/problem+json; charset=utf-8',
        body: {
          ...problem,
          type: 'https://burstgate.dev/problems/validation-failed',
          status: 400,
          errors: [{ path: 'cron', message: 'required' }],
        },
      },
    ].map((a) => validator.check(a));

    // Assess
    expect(answers).toEqual([[], [], [], []]);
  });

  it('picks static paths before parameters: /schedules/preview is not /schedules/{id}', () => {
    // Act / Assess
    expect(validator.templateOf('GET', '/schedules/preview')).toBe('/schedules/preview');
    expect(validator.templateOf('GET', '/schedules/weekend')).toBe('/schedules/{id}');
    expect(validator.templateOf('GET', '/image-cache/us-east-1/My%20VM')).toBe(
      '/image-cache/{region}/{vmName}',
    );
    expect(validator.templateOf('PUT', '/offloads')).toBeUndefined();
  });

  it('rejects a wrong body: a member missing, an unknown state, a wrong type', () => {
    // Prepare
    const { jobId: _gone, ...noId } = jobView();
    const check = (body: unknown) =>
      validator.check({
        method: 'GET',
        path: `/offloads/${JOB}`,
        status: 200,
        contentType: 'application/json',
        body,
      });

    // Act
    const missing = check(noId);
    const state = check(jobView({ state: 'teleported' as never }));
    const type = check({ ...jobView(), bytes: { uploaded: 'lots' } });

    // Assess
    expect(missing.join('\n')).toContain("must have required property 'jobId'");
    expect(state.join('\n')).toContain('/state must be equal to one of the allowed values');
    expect(type.join('\n')).toContain('/bytes/uploaded must be integer');
  });

  it('rejects an undocumented status, a wrong content type and an unknown operation', () => {
    // Act
    const status = validator.check({
      method: 'GET',
      path: '/offloads',
      status: 418,
      contentType: 'application/json',
      body: {},
    });
    const media = validator.check({
      method: 'GET',
      path: `/offloads/${JOB}`,
      status: 404,
      contentType: 'application/json',
      body: problem,
    });
    const unknown = validator.check({
      method: 'PUT',
      path: '/offloads',
      status: 200,
      contentType: 'application/json',
      body: {},
    });

    // Assess
    expect(status).toEqual(['GET /offloads → 418: status 418 is not documented for GET /offloads']);
    expect(media).toEqual([
      `GET /offloads/${JOB} → 404: content type 'application/json' is not one of application/problem+json`,
    ]);
    expect(unknown).toEqual(['PUT /offloads → 200: no such operation in openapi.json']);
  });
});
