import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import type { GatewayFunction } from './gateway-function';
import { acknowledgeWildcard, fixLogicalId } from './nag';
import { SCHEDULE_GROUP_NAME } from './names';

export interface GatewayTimersProps {
  /** The timer state machine's ARN, built from its fixed name (no reference, no cycle). */
  readonly timerStateMachineArn: string;
}

/**
 * The gateway's timers: an EventBridge Scheduler schedule group that holds the one-time schedules
 * (leases, launch times) the functions create, and the role Scheduler assumes to start the timer
 * workflow — StartExecution on that one state machine, nothing else.
 */
export class GatewayTimers extends Construct {
  readonly group: scheduler.CfnScheduleGroup;
  readonly role: iam.Role;
  private readonly schedulesArn: string;

  constructor(scope: Construct, id: string, props: GatewayTimersProps) {
    super(scope, id);
    this.group = new scheduler.CfnScheduleGroup(this, 'Group', { name: SCHEDULE_GROUP_NAME });
    fixLogicalId(this.group, 'TimerScheduleGroup');
    this.role = new iam.Role(this, 'SchedulerRole', {
      description: 'burstgate: EventBridge Scheduler starts the timer workflow',
      // Only schedules of this account may use the role (confused-deputy guard).
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    });
    fixLogicalId(this.role, 'SchedulerRole');
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'StartTimerWorkflow',
        actions: ['states:StartExecution'],
        resources: [props.timerStateMachineArn],
      }),
    );
    this.schedulesArn = `arn:${Aws.PARTITION}:scheduler:${Aws.REGION}:${Aws.ACCOUNT_ID}:schedule/${SCHEDULE_GROUP_NAME}/*`;
  }

  /** Create and replace timers (they name the Scheduler role, hence PassRole on it), and clear them. */
  grantSet(fn: GatewayFunction): void {
    this.grant(fn, ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule']);
    fn.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PassSchedulerRole',
        actions: ['iam:PassRole'],
        resources: [this.role.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    );
  }

  /** Clear timers only (a return started, a job cleaned up). */
  grantClear(fn: GatewayFunction): void {
    this.grant(fn, ['scheduler:DeleteSchedule']);
  }

  private grant(fn: GatewayFunction, actions: string[]): void {
    fn.role.addToPolicy(
      new iam.PolicyStatement({ sid: 'GatewayTimers', actions, resources: [this.schedulesArn] }),
    );
    acknowledgeWildcard(
      fn,
      `Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${SCHEDULE_GROUP_NAME}/*`,
      `Timers are one-time schedules named after the job (<jobId>.<kind>), known only at run time; the grant covers the gateway's own schedule group, ${SCHEDULE_GROUP_NAME}, only.`,
    );
  }
}
