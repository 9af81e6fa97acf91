/**
 * Small helpers over Amazon States Language definitions (JSONPath flavour), shared by the template
 * reader and the local Step Functions service.
 */

export type AslState = { Type: string } & Record<string, unknown>;

export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
  TimeoutSeconds?: number;
  Comment?: string;
  [key: string]: unknown;
}

export const WAIT_FOR_TASK_TOKEN_SUFFIX = '.waitForTaskToken';
export const LAMBDA_INVOKE_RESOURCE = /^arn:[^:]+:states:::lambda:invoke(\.waitForTaskToken)?$/;
export const LAMBDA_FUNCTION_RESOURCE = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+(?::[^:]+)?$/;

/** Every state of a definition, nested ones (Parallel branches, Map processors) included. */
export function forEachState(
  definition: AslDefinition,
  visit: (name: string, state: AslState, path: string) => void,
  path = '',
): void {
  for (const [name, state] of Object.entries(definition.States ?? {})) {
    const here = path ? `${path} > ${name}` : name;
    visit(name, state, here);
    if (state.Type === 'Parallel' && Array.isArray(state.Branches)) {
      (state.Branches as AslDefinition[]).forEach((branch, i) =>
        forEachState(branch, visit, `${here}[${i}]`),
      );
    }
    if (state.Type === 'Map') {
      const processor = (state.ItemProcessor ?? state.Iterator) as AslDefinition | undefined;
      if (processor) forEachState(processor, visit, here);
    }
  }
}

export type TaskKind =
  | { kind: 'function'; functionRef: string }
  | { kind: 'lambda-invoke'; functionRef: string | undefined; waitForTaskToken: boolean }
  | { kind: 'unsupported'; resource: string };

/** What a Task state calls. `functionRef` is an ARN or name (`lambda:invoke` may take it from a `.$` path). */
export function taskKind(state: AslState): TaskKind {
  const resource = String(state.Resource ?? '');
  if (LAMBDA_FUNCTION_RESOURCE.test(resource)) return { kind: 'function', functionRef: resource };
  const invoke = LAMBDA_INVOKE_RESOURCE.exec(resource);
  if (invoke) {
    const params = (state.Parameters ?? {}) as Record<string, unknown>;
    const ref = typeof params.FunctionName === 'string' ? params.FunctionName : undefined;
    return { kind: 'lambda-invoke', functionRef: ref, waitForTaskToken: invoke[1] !== undefined };
  }
  return { kind: 'unsupported', resource };
}

export function deepClone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
