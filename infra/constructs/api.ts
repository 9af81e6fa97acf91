import { CfnOutput, Duration } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { ApiFunctionName } from './functions';
import type { GatewayFunction } from './gateway-function';
import { fixLogicalId } from './nag';

export interface GatewayApiProps {
  readonly functions: Record<ApiFunctionName, GatewayFunction>;
  /** Steady-state requests per second on the stage. */
  readonly throttleRateLimit?: number;
  readonly throttleBurstLimit?: number;
}

/** The routes: method, path, handler. Every route requires the Lambda authorizer. */
export const ROUTES: ReadonlyArray<{
  method: apigwv2.HttpMethod;
  path: string;
  handler: Exclude<ApiFunctionName, 'authorizer'>;
}> = [
  { method: apigwv2.HttpMethod.POST, path: '/offloads', handler: 'createOffload' },
  { method: apigwv2.HttpMethod.GET, path: '/offloads', handler: 'listOffloads' },
  { method: apigwv2.HttpMethod.GET, path: '/offloads/{id}', handler: 'getOffload' },
  { method: apigwv2.HttpMethod.DELETE, path: '/offloads/{id}', handler: 'cancelOffload' },
  { method: apigwv2.HttpMethod.PATCH, path: '/offloads/{id}', handler: 'updateOffload' },
  { method: apigwv2.HttpMethod.POST, path: '/offloads/{id}/upload-complete', handler: 'completeUpload' },
  { method: apigwv2.HttpMethod.POST, path: '/offloads/{id}/return', handler: 'startReturn' },
  { method: apigwv2.HttpMethod.POST, path: '/offloads/{id}/launch', handler: 'launchOffload' },
  { method: apigwv2.HttpMethod.GET, path: '/offloads/{id}/deliveries', handler: 'listDeliveries' },
  { method: apigwv2.HttpMethod.POST, path: '/webhooks', handler: 'createWebhook' },
  { method: apigwv2.HttpMethod.GET, path: '/webhooks', handler: 'listWebhooks' },
  { method: apigwv2.HttpMethod.DELETE, path: '/webhooks/{id}', handler: 'deleteWebhook' },
  { method: apigwv2.HttpMethod.POST, path: '/webhooks/{id}/rotate-secret', handler: 'rotateWebhookSecret' },
  { method: apigwv2.HttpMethod.GET, path: '/webhooks/{id}/deliveries', handler: 'listWebhookDeliveries' },
  {
    method: apigwv2.HttpMethod.POST,
    path: '/webhooks/{id}/deliveries/{deliveryId}/replay',
    handler: 'replayWebhookDelivery',
  },
  { method: apigwv2.HttpMethod.GET, path: '/image-cache/{region}/{vmName}', handler: 'getImageCache' },
  { method: apigwv2.HttpMethod.POST, path: '/schedules', handler: 'createSchedule' },
  { method: apigwv2.HttpMethod.GET, path: '/schedules', handler: 'listSchedules' },
  { method: apigwv2.HttpMethod.GET, path: '/schedules/preview', handler: 'previewSchedule' },
  { method: apigwv2.HttpMethod.GET, path: '/schedules/{id}', handler: 'getSchedule' },
  { method: apigwv2.HttpMethod.PATCH, path: '/schedules/{id}', handler: 'updateSchedule' },
  { method: apigwv2.HttpMethod.DELETE, path: '/schedules/{id}', handler: 'deleteSchedule' },
  { method: apigwv2.HttpMethod.POST, path: '/schedules/{id}/prestage', handler: 'prestageSchedule' },
  { method: apigwv2.HttpMethod.POST, path: '/quotes', handler: 'createQuote' },
  { method: apigwv2.HttpMethod.PUT, path: '/budgets/{tenant}', handler: 'putBudget' },
  { method: apigwv2.HttpMethod.GET, path: '/budgets/{tenant}', handler: 'getBudget' },
  { method: apigwv2.HttpMethod.GET, path: '/budget', handler: 'getOwnBudget' },
  { method: apigwv2.HttpMethod.GET, path: '/openapi.json', handler: 'getOpenApi' },
];

/**
 * The HTTP API the scheduler or the burstgate CLI calls. A Lambda authorizer (payload 2.0, simple
 * responses) checks the `Authorization` header against the hashed API keys in the jobs table on
 * every request (no result cache, so a revoked key stops working at once) and passes the caller's
 * tenant, key id and scopes to the handlers. The default stage logs every request as JSON, with
 * the tenant and key id, and is throttled.
 */
export class GatewayApi extends Construct {
  readonly httpApi: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly url: string;

  constructor(scope: Construct, id: string, props: GatewayApiProps) {
    super(scope, id);
    const { functions } = props;

    const authorizer = new HttpLambdaAuthorizer('ApiKeyAuthorizer', functions.authorizer.fn, {
      authorizerName: 'burstgate-api-key',
      identitySource: ['$request.header.Authorization'],
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      resultsCacheTtl: Duration.seconds(0),
    });

    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      apiName: 'burstgate',
      description: 'burstgate: move VMs into the cloud for a while and bring them home',
      defaultAuthorizer: authorizer,
      createDefaultStage: false,
    });
    fixLogicalId(this.httpApi, 'HttpApi');

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.ONE_MONTH });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit ?? 20, burstLimit: props.throttleBurstLimit ?? 40 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        format: apigateway.AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            integrationLatency: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            authorizerError: '$context.authorizer.error',
            // who called: the authorizer's context (lambdas/api/authorizer.ts)
            tenant: '$context.authorizer.tenant',
            keyId: '$context.authorizer.keyId',
          }),
        ),
      },
    });
    fixLogicalId(this.stage, 'HttpApiDefaultStage');

    for (const route of ROUTES) {
      this.httpApi.addRoutes({
        path: route.path,
        methods: [route.method],
        integration: new HttpLambdaIntegration(`${route.handler}Integration`, functions[route.handler].fn, {
          payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
        }),
      });
    }

    this.url = this.stage.url;
    new CfnOutput(this, 'Url', { key: 'ApiUrl', value: this.url, description: 'burstgate API base URL' });
  }
}
