/**
 * The layers of burstgate, enforced (`npm run lint` runs `depcruise`). Dependencies point one way:
 *
 *   bin → infra → lambdas → shared/domain → shared/{clouds, store} → shared/images
 *                                ↑ shared/client (on-prem side) uses images, clouds' pure knowledge and domain types
 *
 * docs/architecture.md explains each layer; a rule here is the part of it a machine can check.
 * Type-only imports count too (tsPreCompilationDeps): a type cycle is still a cycle a reader has
 * to untangle.
 */
const SDK =
  '^node_modules/(@aws-sdk|@azure|@smithy|@middy|@aws-lambda-powertools|aws-cdk-lib|constructs|cdk-nag)/';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A module cycle in production code: move what both sides need into a leaf module.',
      from: { pathNot: '^test/' },
      to: { circular: true },
    },
    {
      name: 'images-is-the-bottom-layer',
      severity: 'error',
      comment:
        'shared/images (disk formats, conversion) knows no cloud, store, workflow or handler: it imports only itself, Node and small libraries.',
      from: { path: '^shared/images/' },
      to: { path: ['^shared/(?!images/)', '^(lambdas|infra|bin|bench|scripts)/', SDK] },
    },
    {
      name: 'shared-never-imports-infra',
      severity: 'error',
      comment: 'Domain and handlers run in Lambda: the CDK app and the embedded deployment sit above them.',
      from: { path: '^(shared|lambdas)/' },
      to: { path: '^(infra|bin|bench)/' },
    },
    {
      name: 'shared-never-imports-lambdas',
      severity: 'error',
      comment: 'Handlers translate events and delegate to shared/; nothing in shared/ knows a Lambda entry.',
      from: { path: '^shared/' },
      to: { path: '^lambdas/' },
    },
    {
      name: 'workflow-never-imports-api-use-cases',
      severity: 'error',
      comment:
        'The API use cases (offloads.ts, cancel.ts, the views) start workflows; the workflow steps never call them back. Share through domain/executions.ts and the like.',
      from: { path: '^shared/domain/workflow/' },
      to: { path: '^shared/domain/(offloads|cancel|view|image-cache-view|requests)\\.ts$' },
    },
    {
      name: 'step-kit-is-the-workflow-leaf',
      severity: 'error',
      comment: 'Every step is built from the step kit; the kit imports no step.',
      from: { path: '^shared/domain/workflow/step-kit\\.ts$' },
      to: { path: '^shared/domain/workflow/', pathNot: '^shared/domain/workflow/step-kit\\.ts$' },
    },
    {
      name: 'adapters-know-only-the-job-model',
      severity: 'error',
      comment:
        'Cloud adapters, stores and timers sit below the domain: of shared/domain they may use only the job model (job.ts).',
      from: { path: '^shared/(clouds|store|timers)/' },
      to: { path: '^shared/domain/', pathNot: '^shared/domain/(job|schedule-model)\\.ts$' },
    },
    {
      name: 'schedules-is-a-leaf',
      severity: 'error',
      comment:
        'shared/schedules (AWS schedule expressions, occurrences in a time zone) is pure: Node and croner, nothing else of the project, no SDK.',
      from: { path: '^shared/schedules/' },
      to: { path: ['^shared/(?!schedules/)', '^(lambdas|infra|bin|bench|scripts)/', SDK] },
    },
    {
      name: 'client-stays-on-prem',
      severity: 'error',
      comment:
        'shared/client runs on the on-prem side (the CLI): no workflow, store, cloud SDK or handler code, so the CLI stays small and starts fast.',
      from: { path: '^shared/client/' },
      to: {
        path: [
          '^shared/(store|runtime|domain/workflow)/',
          '^shared/clouds/(aws/aws-|azure/azure-|azure/clients)',
          '^(lambdas|infra)/',
          SDK,
        ],
      },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|cdk\\.out|dist|coverage|\\.burstgate)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
