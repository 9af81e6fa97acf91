import { describe, expect, it } from 'vitest';
import { resourcesOfType, synthesized } from '../../helpers/synth';

/** Route key → handler function logical id. */
const EXPECTED_ROUTES: Record<string, string> = {
  'POST /offloads': 'FnApiCreateOffload',
  'GET /offloads': 'FnApiListOffloads',
  'GET /offloads/{id}': 'FnApiGetOffload',
  'DELETE /offloads/{id}': 'FnApiCancelOffload',
  'PATCH /offloads/{id}': 'FnApiUpdateOffload',
  'POST /offloads/{id}/upload-complete': 'FnApiCompleteUpload',
  'POST /offloads/{id}/return': 'FnApiStartReturn',
  'POST /offloads/{id}/launch': 'FnApiLaunchOffload',
  'GET /image-cache/{region}/{vmName}': 'FnApiGetImageCache',
  'POST /schedules': 'FnApiCreateSchedule',
  'GET /schedules': 'FnApiListSchedules',
  'GET /schedules/preview': 'FnApiPreviewSchedule',
  'GET /schedules/{id}': 'FnApiGetSchedule',
  'PATCH /schedules/{id}': 'FnApiUpdateSchedule',
  'DELETE /schedules/{id}': 'FnApiDeleteSchedule',
  'POST /schedules/{id}/prestage': 'FnApiPrestageSchedule',
  'GET /openapi.json': 'FnApiGetOpenapi',
  'GET /offloads/{id}/deliveries': 'FnApiListDeliveries',
  'POST /quotes': 'FnApiCreateQuote',
  'PUT /budgets/{tenant}': 'FnApiPutBudget',
  'GET /budgets/{tenant}': 'FnApiGetBudget',
  'GET /budget': 'FnApiGetOwnBudget',
  'POST /webhooks': 'FnApiCreateWebhook',
  'GET /webhooks': 'FnApiListWebhooks',
  'DELETE /webhooks/{id}': 'FnApiDeleteWebhook',
  'POST /webhooks/{id}/rotate-secret': 'FnApiRotateWebhookSecret',
  'GET /webhooks/{id}/deliveries': 'FnApiListWebhookDeliveries',
  'POST /webhooks/{id}/deliveries/{deliveryId}/replay': 'FnApiReplayWebhookDelivery',
};

describe('HTTP API', () => {
  it('has exactly the gateway routes, each integrated (payload 2.0) with its own handler', () => {
    // Prepare
    const { template } = synthesized();
    const routes = resourcesOfType(template, 'AWS::ApiGatewayV2::Route');
    const integrations = resourcesOfType(template, 'AWS::ApiGatewayV2::Integration');

    // Act
    const handlerOf = Object.fromEntries(
      Object.values(routes).map((route) => {
        const target = route.Properties.Target as { 'Fn::Join': [string, [string, { Ref: string }]] };
        const integration = integrations[target['Fn::Join'][1][1].Ref];
        expect(integration?.Properties).toMatchObject({
          IntegrationType: 'AWS_PROXY',
          PayloadFormatVersion: '2.0',
        });
        const uri = integration?.Properties.IntegrationUri as { 'Fn::GetAtt': [string, string] };
        return [route.Properties.RouteKey as string, uri['Fn::GetAtt'][0]];
      }),
    );

    // Assess
    expect(handlerOf).toEqual(EXPECTED_ROUTES);
  });

  it('requires the Lambda authorizer on every route', () => {
    // Prepare
    const { template } = synthesized();
    const routes = resourcesOfType(template, 'AWS::ApiGatewayV2::Route');
    const authorizers = resourcesOfType(template, 'AWS::ApiGatewayV2::Authorizer');
    const [authorizerId] = Object.keys(authorizers);

    // Act / Assess
    expect(Object.keys(authorizers)).toHaveLength(1);
    for (const route of Object.values(routes)) {
      expect(route.Properties.AuthorizationType, String(route.Properties.RouteKey)).toBe('CUSTOM');
      expect(route.Properties.AuthorizerId, String(route.Properties.RouteKey)).toEqual({ Ref: authorizerId });
    }
  });

  it('authorizes with the authorizer function: REQUEST, payload 2.0, simple responses, Authorization header, no cache', () => {
    // Prepare
    const { template } = synthesized();

    // Act
    const [authorizer] = Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Authorizer'));

    // Assess
    expect(authorizer?.Properties).toMatchObject({
      AuthorizerType: 'REQUEST',
      AuthorizerPayloadFormatVersion: '2.0',
      EnableSimpleResponses: true,
      IdentitySource: ['$request.header.Authorization'],
      AuthorizerResultTtlInSeconds: 0,
    });
    expect(JSON.stringify(authorizer?.Properties.AuthorizerUri)).toContain('"FnApiAuthorizer","Arn"');
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': ['FnApiAuthorizer', 'Arn'] },
      Principal: 'apigateway.amazonaws.com',
    });
  });

  it('logs every request of the auto-deployed default stage as JSON and throttles it', () => {
    // Prepare
    const { template } = synthesized();

    // Act
    const stage = template.toJSON().Resources.HttpApiDefaultStage;

    // Assess
    expect(stage.Properties.StageName).toBe('$default');
    expect(stage.Properties.AutoDeploy).toBe(true);
    expect(stage.Properties.DefaultRouteSettings).toMatchObject({
      ThrottlingRateLimit: 20,
      ThrottlingBurstLimit: 40,
    });
    const access = stage.Properties.AccessLogSettings;
    expect(access.DestinationArn['Fn::GetAtt'][1]).toBe('Arn');
    const format = JSON.parse(access.Format) as Record<string, string>;
    expect(format.requestId).toBe('$context.requestId');
    expect(format.status).toBe('$context.status');
  });

  it('outputs the API URL', () => {
    // Prepare
    const { template } = synthesized();

    // Act
    const outputs = template.toJSON().Outputs;

    // Assess
    expect(outputs.ApiUrl.Value['Fn::Join'][1]).toEqual(
      expect.arrayContaining(['https://', { Ref: 'HttpApi' }, '.execute-api.']),
    );
  });
});
