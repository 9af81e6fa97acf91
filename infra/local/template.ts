/**
 * Reads the synthesized CloudFormation template of the gateway stack and extracts what the
 * embedded deployment needs: the functions (entry modules), the two state machine definitions with
 * every ARN resolved to its local form, the HTTP API routes with their integrations and
 * authorizers, and the jobs table's key schema. The template is the single source of truth: the
 * embedded deployment runs exactly the ASL and routes the cloud runs.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { forEachState, taskKind, type AslDefinition } from './asl';
import {
  LOCAL_ACCOUNT_ID,
  LOCAL_BUCKET_NAME,
  LOCAL_EVENT_BUS_NAME,
  LOCAL_PARTITION,
  LOCAL_REGION,
  LOCAL_TABLE_NAME,
  functionNameFromArn,
  localFunctionArn,
  localStateMachineArn,
} from './constants';

import {
  CANCEL_STATE_MACHINE_NAME,
  ENTRY_METADATA_KEY,
  OFFLOAD_STATE_MACHINE_NAME,
  RETURN_STATE_MACHINE_NAME,
  TIMER_STATE_MACHINE_NAME,
  WEBHOOK_STATE_MACHINE_NAME,
} from '../constructs/names';

export class TemplateError extends Error {
  override name = 'TemplateError';
}

export interface TemplateFunction {
  logicalId: string;
  /** The local function name (= logical id); the ARN ends with it. */
  name: string;
  arn: string;
  /** Entry module, relative to the project root (`burstgate:entry` metadata). */
  entry: string;
  /** Environment variables, resolved to local values where possible. */
  env: Record<string, string>;
  timeoutSeconds: number;
  memoryMiB: number;
}

export interface TemplateStateMachine {
  logicalId: string;
  name: string;
  arn: string;
  /** ASL with every ARN and name resolved to its local form. */
  definition: AslDefinition;
}

export interface TemplateAuthorizer {
  logicalId: string;
  functionLogicalId: string;
  /** e.g. `['$request.header.Authorization']` */
  identitySource: string[];
  simpleResponses: boolean;
  payloadFormatVersion: string;
  resultTtlSeconds: number;
}

export interface TemplateRoute {
  routeKey: string;
  /** Upper-case method, or `ANY`. */
  method: string;
  /** Path with `{param}` / `{proxy+}` placeholders, or `$default`. */
  path: string;
  functionLogicalId: string;
  authorizerFunctionLogicalId?: string;
  authorizer?: TemplateAuthorizer;
}

export interface TemplateTable {
  logicalId: string;
  KeySchema: NonNullable<CreateTableCommandInput['KeySchema']>;
  AttributeDefinitions: NonNullable<CreateTableCommandInput['AttributeDefinitions']>;
  GlobalSecondaryIndexes?: CreateTableCommandInput['GlobalSecondaryIndexes'];
  LocalSecondaryIndexes?: CreateTableCommandInput['LocalSecondaryIndexes'];
  BillingMode: 'PAY_PER_REQUEST' | 'PROVISIONED';
}

export interface LocalTemplate {
  functions: Map<string, TemplateFunction>;
  stateMachines: Record<'offload' | 'return' | 'timer' | 'webhook' | 'cancel', TemplateStateMachine>;
  routes: TemplateRoute[];
  table: TemplateTable;
}

export interface ReadTemplateOptions {
  /** Local names substituted for `Ref`s to these resources. */
  tableName?: string;
  bucketName?: string;
  eventBusName?: string;
}

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

const PSEUDO_PARAMETERS: Record<string, string> = {
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT_ID,
  'AWS::Partition': LOCAL_PARTITION,
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'BurstgateStack',
  'AWS::StackId': `arn:aws:cloudformation:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stack/BurstgateStack/local`,
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Resolves CloudFormation intrinsics to the values they have in the embedded deployment. */
class IntrinsicResolver {
  constructor(
    private readonly resources: Record<string, CfnResource>,
    private readonly parameters: Record<string, { Default?: unknown }>,
    private readonly opts: Required<ReadTemplateOptions>,
  ) {}

  resolve(value: unknown, where: string): unknown {
    if (Array.isArray(value)) return value.map((v, i) => this.resolve(v, `${where}[${i}]`));
    if (!isObject(value)) return value;
    const keys = Object.keys(value);
    if (keys.length === 1) {
      const [key] = keys as [string];
      const arg = value[key];
      switch (key) {
        case 'Ref':
          return this.ref(String(arg), where);
        case 'Fn::GetAtt': {
          const [id, attr] = Array.isArray(arg) ? (arg as string[]) : String(arg).split(/\.(.*)/s);
          return this.getAtt(String(id), String(attr), where);
        }
        case 'Fn::Join': {
          if (!Array.isArray(arg) || arg.length !== 2 || !Array.isArray(arg[1])) {
            throw new TemplateError(`${where}: malformed Fn::Join`);
          }
          const parts = (this.resolve(arg[1], where) as unknown[]).map((p) => this.str(p, where));
          return parts.join(String(arg[0]));
        }
        case 'Fn::Sub':
          return this.sub(arg, where);
        case 'Fn::Select': {
          const [index, list] = arg as [unknown, unknown];
          const items = this.resolve(list, where);
          const i = Number(this.resolve(index, where));
          if (!Array.isArray(items) || !(i in items))
            throw new TemplateError(`${where}: Fn::Select out of range`);
          return items[i];
        }
        case 'Fn::Split': {
          const [delim, source] = arg as [string, unknown];
          return this.str(this.resolve(source, where), where).split(delim);
        }
        default:
          if (key.startsWith('Fn::') || key === 'Condition') {
            throw new TemplateError(`${where}: intrinsic ${key} is not supported by the embedded deployment`);
          }
      }
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = this.resolve(v, `${where}.${k}`);
    return out;
  }

  private str(v: unknown, where: string): string {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new TemplateError(`${where}: expected a string, got ${JSON.stringify(v)}`);
  }

  private resource(id: string, where: string): CfnResource {
    const resource = this.resources[id];
    if (!resource) throw new TemplateError(`${where}: reference to unknown resource ${id}`);
    return resource;
  }

  ref(id: string, where: string): unknown {
    const pseudo = PSEUDO_PARAMETERS[id];
    if (pseudo !== undefined) return pseudo;
    if (id === 'AWS::NoValue') return undefined;
    const parameter = this.parameters[id];
    if (parameter) {
      if (parameter.Default === undefined)
        throw new TemplateError(`${where}: parameter ${id} has no default`);
      return parameter.Default;
    }
    const resource = this.resource(id, where);
    const props = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::Lambda::Function':
        return id;
      case 'AWS::StepFunctions::StateMachine':
        return localStateMachineArn(this.stateMachineName(id, where));
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable':
        return this.opts.tableName;
      case 'AWS::S3::Bucket':
        return this.opts.bucketName;
      case 'AWS::Events::EventBus':
        return typeof props.Name === 'string' ? props.Name : this.opts.eventBusName;
      default:
        // Roles, log groups, integrations, authorizers...: the logical id stands in for the physical name.
        return id;
    }
  }

  stateMachineName(id: string, where: string): string {
    const name = this.resolve(
      this.resource(id, where).Properties?.StateMachineName,
      `${where}.StateMachineName`,
    );
    if (typeof name !== 'string' || !name) {
      throw new TemplateError(
        `${where}: state machine ${id} has no StateMachineName; the embedded deployment needs fixed names`,
      );
    }
    return name;
  }

  getAtt(id: string, attr: string, where: string): unknown {
    const resource = this.resource(id, where);
    const type = resource.Type;
    const table = this.opts.tableName;
    const bucket = this.opts.bucketName;
    const values: Record<string, () => unknown> = {
      'AWS::Lambda::Function.Arn': () => localFunctionArn(id),
      'AWS::StepFunctions::StateMachine.Arn': () => localStateMachineArn(this.stateMachineName(id, where)),
      'AWS::StepFunctions::StateMachine.Name': () => this.stateMachineName(id, where),
      'AWS::DynamoDB::Table.Arn': () => `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:table/${table}`,
      'AWS::DynamoDB::GlobalTable.Arn': () =>
        `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:table/${table}`,
      'AWS::S3::Bucket.Arn': () => `arn:aws:s3:::${bucket}`,
      'AWS::S3::Bucket.DomainName': () => `${bucket}.s3.amazonaws.com`,
      'AWS::S3::Bucket.RegionalDomainName': () => `${bucket}.s3.${LOCAL_REGION}.amazonaws.com`,
      'AWS::Events::EventBus.Arn': () =>
        `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:event-bus/${String(this.ref(id, where))}`,
      'AWS::Events::EventBus.Name': () => this.ref(id, where),
      'AWS::IAM::Role.Arn': () => `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${id}`,
      'AWS::Logs::LogGroup.Arn': () => `arn:aws:logs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:log-group:${id}:*`,
    };
    const value = values[`${type}.${attr}`];
    if (!value) throw new TemplateError(`${where}: Fn::GetAtt ${id}.${attr} (${type}) has no local value`);
    return value();
  }

  private sub(arg: unknown, where: string): string {
    const [text, vars] = Array.isArray(arg) ? (arg as [string, Record<string, unknown>]) : [String(arg), {}];
    return text.replace(/\$\{(!?)([^}]+)\}/g, (_m, bang: string, name: string) => {
      if (bang) return `\${${name}}`;
      if (name in vars) return this.str(this.resolve(vars[name], where), where);
      if (name in PSEUDO_PARAMETERS || !name.includes('.')) return this.str(this.ref(name, where), where);
      const [id, attr] = name.split(/\.(.*)/s) as [string, string];
      return this.str(this.getAtt(id, attr, where), where);
    });
  }
}

function asResources(template: unknown): Record<string, CfnResource> {
  if (!isObject(template) || !isObject(template.Resources)) {
    throw new TemplateError(
      'template has no Resources section: is this a synthesized CloudFormation template?',
    );
  }
  return template.Resources as Record<string, CfnResource>;
}

function ofType(resources: Record<string, CfnResource>, ...types: string[]): Array<[string, CfnResource]> {
  return Object.entries(resources).filter(([, r]) => types.includes(r.Type));
}

/** Function logical id referenced by a resolved ARN-ish value (function ARN, or an apigateway invocation URI). */
function functionIdIn(value: unknown, where: string, functions: Map<string, TemplateFunction>): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const match = /:function:([A-Za-z0-9_-]+)/.exec(text ?? '');
  const id = match?.[1];
  if (!id) throw new TemplateError(`${where}: ${text} does not name a Lambda function`);
  if (!functions.has(id)) {
    throw new TemplateError(
      `${where}: function ${id} is not a burstgate function (no "${ENTRY_METADATA_KEY}" metadata) or does not exist`,
    );
  }
  return id;
}

function readFunctions(resources: Record<string, CfnResource>, resolver: IntrinsicResolver) {
  const functions = new Map<string, TemplateFunction>();
  for (const [id, resource] of ofType(resources, 'AWS::Lambda::Function')) {
    const entry = resource.Metadata?.[ENTRY_METADATA_KEY];
    if (entry === undefined) continue; // CDK helper functions (custom resources, log retention)
    if (typeof entry !== 'string' || !entry) {
      throw new TemplateError(`function ${id}: metadata "${ENTRY_METADATA_KEY}" must be a non-empty path`);
    }
    const props = resource.Properties ?? {};
    const rawEnv = (
      isObject(props.Environment) && isObject(props.Environment.Variables) ? props.Environment.Variables : {}
    ) as Record<string, unknown>;
    const env: Record<string, string> = {};
    for (const [name, raw] of Object.entries(rawEnv)) {
      try {
        const value = resolver.resolve(raw, `function ${id} env ${name}`);
        if (value !== undefined) env[name] = typeof value === 'string' ? value : JSON.stringify(value);
      } catch (err) {
        env[name] = `<unresolved: ${(err as Error).message}>`;
      }
    }
    functions.set(id, {
      logicalId: id,
      name: id,
      arn: localFunctionArn(id),
      entry: entry.replace(/^\.\//, ''),
      env,
      timeoutSeconds: typeof props.Timeout === 'number' ? props.Timeout : 3,
      memoryMiB: typeof props.MemorySize === 'number' ? props.MemorySize : 128,
    });
  }
  if (functions.size === 0) {
    throw new TemplateError(`template has no AWS::Lambda::Function with "${ENTRY_METADATA_KEY}" metadata`);
  }
  return functions;
}

function parseDefinition(id: string, resource: CfnResource, resolver: IntrinsicResolver): AslDefinition {
  const props = resource.Properties ?? {};
  const where = `state machine ${id}`;
  let definition: unknown;
  if (props.DefinitionString !== undefined) {
    const resolved = resolver.resolve(props.DefinitionString, `${where}.DefinitionString`);
    if (typeof resolved !== 'string')
      throw new TemplateError(`${where}: DefinitionString did not resolve to a string`);
    let text = resolved;
    if (isObject(props.DefinitionSubstitutions)) {
      for (const [key, raw] of Object.entries(props.DefinitionSubstitutions)) {
        const value = resolver.resolve(raw, `${where}.DefinitionSubstitutions.${key}`);
        text = text.split(`\${${key}}`).join(String(value));
      }
    }
    try {
      definition = JSON.parse(text);
    } catch (err) {
      throw new TemplateError(
        `${where}: DefinitionString is not JSON after resolution: ${(err as Error).message}`,
      );
    }
  } else if (props.Definition !== undefined) {
    definition = resolver.resolve(props.Definition, `${where}.Definition`);
  } else {
    throw new TemplateError(
      `${where}: no DefinitionString or Definition (S3 locations are not supported locally)`,
    );
  }
  if (!isObject(definition) || typeof definition.StartAt !== 'string' || !isObject(definition.States)) {
    throw new TemplateError(`${where}: the definition has no StartAt/States`);
  }
  if (definition.QueryLanguage === 'JSONata') {
    throw new TemplateError(
      `${where}: JSONata definitions are not supported by the embedded deployment (JSONPath only)`,
    );
  }
  return definition as AslDefinition;
}

function checkTaskReferences(sm: TemplateStateMachine, functions: Map<string, TemplateFunction>): void {
  forEachState(sm.definition, (_name, state, path) => {
    if (state.Type !== 'Task') return;
    const where = `state machine ${sm.name}, state ${path}`;
    const task = taskKind(state);
    if (task.kind === 'unsupported') {
      throw new TemplateError(
        `${where}: resource ${task.resource} is not supported by the embedded deployment`,
      );
    }
    if (task.functionRef === undefined) {
      throw new TemplateError(`${where}: lambda:invoke needs a literal Parameters.FunctionName`);
    }
    const name = functionNameFromArn(task.functionRef);
    if (!functions.has(name)) {
      throw new TemplateError(
        `${where}: function ${task.functionRef} is not a burstgate function of this template`,
      );
    }
  });
}

function readStateMachines(
  resources: Record<string, CfnResource>,
  resolver: IntrinsicResolver,
  functions: Map<string, TemplateFunction>,
): LocalTemplate['stateMachines'] {
  const byName = new Map<string, TemplateStateMachine>();
  for (const [id, resource] of ofType(resources, 'AWS::StepFunctions::StateMachine')) {
    const name = resolver.stateMachineName(id, `state machine ${id}`);
    const sm = {
      logicalId: id,
      name,
      arn: localStateMachineArn(name),
      definition: parseDefinition(id, resource, resolver),
    };
    checkTaskReferences(sm, functions);
    byName.set(name, sm);
  }
  const pick = (name: string): TemplateStateMachine => {
    const sm = byName.get(name);
    if (!sm) {
      const found = [...byName.keys()].join(', ') || 'none';
      throw new TemplateError(`template has no state machine named ${name} (found: ${found})`);
    }
    return sm;
  };
  return {
    offload: pick(OFFLOAD_STATE_MACHINE_NAME),
    return: pick(RETURN_STATE_MACHINE_NAME),
    timer: pick(TIMER_STATE_MACHINE_NAME),
    webhook: pick(WEBHOOK_STATE_MACHINE_NAME),
    cancel: pick(CANCEL_STATE_MACHINE_NAME),
  };
}

function refId(value: unknown): string | undefined {
  if (isObject(value) && typeof value.Ref === 'string') return value.Ref;
  return undefined;
}

function readRoutes(
  resources: Record<string, CfnResource>,
  resolver: IntrinsicResolver,
  functions: Map<string, TemplateFunction>,
): TemplateRoute[] {
  const routes: TemplateRoute[] = [];
  const authorizers = new Map<string, TemplateAuthorizer>();
  const authorizer = (id: string, where: string): TemplateAuthorizer => {
    const known = authorizers.get(id);
    if (known) return known;
    const resource = resources[id];
    if (resource?.Type !== 'AWS::ApiGatewayV2::Authorizer')
      throw new TemplateError(`${where}: ${id} is not an authorizer`);
    const props = (resolver.resolve(resource.Properties ?? {}, `authorizer ${id}`) ?? {}) as Record<
      string,
      unknown
    >;
    if (props.AuthorizerType !== 'REQUEST') {
      throw new TemplateError(
        `authorizer ${id}: only Lambda REQUEST authorizers are supported locally (got ${String(props.AuthorizerType)})`,
      );
    }
    const result: TemplateAuthorizer = {
      logicalId: id,
      functionLogicalId: functionIdIn(props.AuthorizerUri, `authorizer ${id} AuthorizerUri`, functions),
      identitySource: Array.isArray(props.IdentitySource)
        ? props.IdentitySource.map(String)
        : typeof props.IdentitySource === 'string'
          ? props.IdentitySource.split(',').map((s) => s.trim())
          : [],
      simpleResponses: props.EnableSimpleResponses === true,
      payloadFormatVersion: String(props.AuthorizerPayloadFormatVersion ?? '2.0'),
      resultTtlSeconds: Number(props.AuthorizerResultTtlInSeconds ?? 0),
    };
    authorizers.set(id, result);
    return result;
  };

  for (const [id, resource] of ofType(resources, 'AWS::ApiGatewayV2::Route')) {
    const where = `route ${id}`;
    const props = resource.Properties ?? {};
    const routeKey = resolver.resolve(props.RouteKey, `${where}.RouteKey`);
    if (typeof routeKey !== 'string') throw new TemplateError(`${where}: RouteKey must be a string`);
    const [method, path] = routeKey === '$default' ? ['ANY', '$default'] : routeKey.split(/\s+/, 2);
    if (!method || !path) throw new TemplateError(`${where}: malformed RouteKey ${routeKey}`);
    const target = resolver.resolve(props.Target, `${where}.Target`);
    const integrationId = typeof target === 'string' ? /^integrations\/(.+)$/.exec(target)?.[1] : undefined;
    const integration = integrationId ? resources[integrationId] : undefined;
    if (!integrationId || integration?.Type !== 'AWS::ApiGatewayV2::Integration') {
      throw new TemplateError(
        `${where} (${routeKey}): Target ${JSON.stringify(target)} is not integrations/<Integration>`,
      );
    }
    const integrationProps = integration.Properties ?? {};
    const version = String(integrationProps.PayloadFormatVersion ?? '2.0');
    if (version !== '2.0') {
      throw new TemplateError(
        `integration ${integrationId}: payload format ${version} is not supported locally (2.0 only)`,
      );
    }
    const functionLogicalId = functionIdIn(
      resolver.resolve(integrationProps.IntegrationUri, `integration ${integrationId}.IntegrationUri`),
      `integration ${integrationId}`,
      functions,
    );
    const route: TemplateRoute = { routeKey, method: method.toUpperCase(), path, functionLogicalId };
    const authType = String(props.AuthorizationType ?? 'NONE');
    if (authType === 'CUSTOM') {
      const authorizerId =
        refId(props.AuthorizerId) ??
        (typeof props.AuthorizerId === 'string' ? props.AuthorizerId : undefined);
      if (!authorizerId)
        throw new TemplateError(`${where} (${routeKey}): CUSTOM authorization without an AuthorizerId Ref`);
      route.authorizer = authorizer(authorizerId, where);
      route.authorizerFunctionLogicalId = route.authorizer.functionLogicalId;
    } else if (authType !== 'NONE') {
      throw new TemplateError(
        `${where} (${routeKey}): authorization type ${authType} is not supported locally`,
      );
    }
    routes.push(route);
  }
  if (routes.length === 0) throw new TemplateError('template has no AWS::ApiGatewayV2::Route');
  return routes;
}

function readTable(resources: Record<string, CfnResource>): TemplateTable {
  const tables = ofType(resources, 'AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable');
  if (tables.length !== 1) {
    throw new TemplateError(`template must have exactly one DynamoDB table, found ${tables.length}`);
  }
  const [[id, resource]] = tables as [[string, CfnResource]];
  const props = resource.Properties ?? {};
  if (!Array.isArray(props.KeySchema) || !Array.isArray(props.AttributeDefinitions)) {
    throw new TemplateError(`table ${id}: KeySchema and AttributeDefinitions are required`);
  }
  const indexes = (list: unknown) =>
    Array.isArray(list)
      ? (list as Array<Record<string, unknown>>).map((i) => ({
          IndexName: i.IndexName,
          KeySchema: i.KeySchema,
          Projection: i.Projection ?? { ProjectionType: 'ALL' },
        }))
      : undefined;
  const billing =
    props.BillingMode === 'PROVISIONED'
      ? 'PROVISIONED'
      : props.BillingMode
        ? String(props.BillingMode)
        : undefined;
  const table: TemplateTable = {
    logicalId: id,
    KeySchema: props.KeySchema as TemplateTable['KeySchema'],
    AttributeDefinitions: props.AttributeDefinitions as TemplateTable['AttributeDefinitions'],
    BillingMode:
      billing === 'PROVISIONED' || (billing === undefined && props.ProvisionedThroughput)
        ? 'PROVISIONED'
        : 'PAY_PER_REQUEST',
  };
  const gsis = indexes(props.GlobalSecondaryIndexes);
  if (gsis) table.GlobalSecondaryIndexes = gsis as TemplateTable['GlobalSecondaryIndexes'];
  const lsis = indexes(props.LocalSecondaryIndexes);
  if (lsis) table.LocalSecondaryIndexes = lsis as TemplateTable['LocalSecondaryIndexes'];
  return table;
}

/** Reads a synthesized template; throws TemplateError naming what is missing or unsupported. */
export function readTemplate(template: unknown, opts: ReadTemplateOptions = {}): LocalTemplate {
  const resources = asResources(template);
  const parameters = (
    isObject(template) && isObject(template.Parameters) ? template.Parameters : {}
  ) as Record<string, { Default?: unknown }>;
  const resolver = new IntrinsicResolver(resources, parameters, {
    tableName: opts.tableName ?? LOCAL_TABLE_NAME,
    bucketName: opts.bucketName ?? LOCAL_BUCKET_NAME,
    eventBusName: opts.eventBusName ?? LOCAL_EVENT_BUS_NAME,
  });
  const functions = readFunctions(resources, resolver);
  return {
    functions,
    stateMachines: readStateMachines(resources, resolver, functions),
    routes: readRoutes(resources, resolver, functions),
    table: readTable(resources),
  };
}

/** CreateTable input for the local table, from the template's definition. */
export function tableCreateInput(table: TemplateTable, tableName: string): CreateTableCommandInput {
  const throughput = { ReadCapacityUnits: 5, WriteCapacityUnits: 5 };
  const provisioned = table.BillingMode === 'PROVISIONED';
  const input: CreateTableCommandInput = {
    TableName: tableName,
    KeySchema: table.KeySchema,
    AttributeDefinitions: table.AttributeDefinitions,
    BillingMode: table.BillingMode,
    ...(provisioned ? { ProvisionedThroughput: throughput } : {}),
  };
  if (table.GlobalSecondaryIndexes?.length) {
    input.GlobalSecondaryIndexes = table.GlobalSecondaryIndexes.map((gsi) => ({
      ...gsi,
      ...(provisioned ? { ProvisionedThroughput: throughput } : {}),
    }));
  }
  if (table.LocalSecondaryIndexes?.length) input.LocalSecondaryIndexes = table.LocalSecondaryIndexes;
  return input;
}
