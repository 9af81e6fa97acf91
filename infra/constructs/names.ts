/**
 * Fixed names shared by the stack, the Lambda handlers (through environment variables) and the
 * embedded deployment (which reads the synthesized template). Changing one of these is a contract
 * change: the names below appear in IAM policies, ARNs built without references (to avoid
 * dependency cycles) and tests.
 */

/** The stack's construct id, also its CloudFormation stack name. */
export const STACK_NAME = 'BurstgateStack';

/** State machine names. Fixed so API functions can build the ARNs without referencing the machines. */
export const OFFLOAD_STATE_MACHINE_NAME = 'burstgate-offload';
export const RETURN_STATE_MACHINE_NAME = 'burstgate-return';
/** The timer workflow EventBridge Scheduler starts (lease warnings, lease-driven returns). */
export const TIMER_STATE_MACHINE_NAME = 'burstgate-timer';
export const WEBHOOK_STATE_MACHINE_NAME = 'burstgate-webhook';
/** The cancel workflow: a DELETE (or a lease's or schedule's cancel) starts it; it removes what the job created. */
export const CANCEL_STATE_MACHINE_NAME = 'burstgate-cancel';

/** The EventBridge Scheduler group of the gateway's timers. */
export const SCHEDULE_GROUP_NAME = 'burstgate';

/** The custom EventBridge bus; jobs publish `Job State Changed` events with source `burstgate`. */
export const EVENT_BUS_NAME = 'burstgate';
export const EVENT_SOURCE = 'burstgate';
export const JOB_STATE_CHANGED_DETAIL_TYPE = 'Job State Changed';

/** The VM Import/Export service role; AWS looks it up by this name unless told otherwise. */
export const VMIMPORT_ROLE_NAME = 'vmimport';

/** Powertools service name of every function. */
export const SERVICE_NAME = 'burstgate';

/** Key prefixes in the staging bucket (lifecycle rules and IAM grants are scoped to them). */
export const STAGING_PREFIX = 'staging/';
export const RETURNS_PREFIX = 'returns/';
/** AWS direct: block manifests of the snapshots the image cache keeps (no expiry; the cache removes them). */
export const MANIFESTS_PREFIX = 'manifests/';

/** Tags the gateway puts on every cloud resource it creates; IAM conditions rely on the first one. */
export const MANAGED_TAG_KEY = 'burstgate:managed';
export const MANAGED_TAG_VALUE = 'true';
export const JOB_TAG_KEY = 'burstgate:job';

/** CloudFormation metadata key on every function: the entry module, relative to the project root. */
export const ENTRY_METADATA_KEY = 'burstgate:entry';

/** Environment variable names set on every function (the same ones `configFromEnv` reads). */
export { ENV as ENV_NAMES } from '../../shared/runtime/env-names';
