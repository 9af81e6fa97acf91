/**
 * The gateway's timers in the stack: the EventBridge Scheduler group, the role Scheduler assumes
 * (StartExecution on the timer workflow only, for schedules of this account only), and the timer
 * workflow itself (one Task, no Wait: the waiting is Scheduler's).
 */
import { describe, expect, it } from 'vitest';
import { stateMachineDefinition } from '../../../infra/synth-template';
import { resourcesOfType, statementsOfRole, synthesized } from '../../helpers/synth';

describe('gateway timers', () => {
  it('have a schedule group named burstgate', () => {
    // Prepare
    const { template } = synthesized();

    // Act
    const groups = resourcesOfType(template, 'AWS::Scheduler::ScheduleGroup');

    // Assess
    expect(Object.keys(groups)).toEqual(['TimerScheduleGroup']);
    expect(groups.TimerScheduleGroup?.Properties).toEqual({ Name: 'burstgate' });
  });

  it('give Scheduler a role that only starts the timer workflow, assumable by this account’s schedules only', () => {
    // Prepare
    const { template } = synthesized();
    const role = resourcesOfType(template, 'AWS::IAM::Role').SchedulerRole;

    // Act
    const statements = statementsOfRole(template, 'SchedulerRole');

    // Assess
    expect(role?.Properties.AssumeRolePolicyDocument).toMatchObject({
      Statement: [
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'scheduler.amazonaws.com' },
          Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
        },
      ],
    });
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({ Action: 'states:StartExecution', Effect: 'Allow' });
    expect(JSON.stringify(statements[0]?.Resource)).toContain(':stateMachine:burstgate-timer');
  });

  it('pass the Scheduler role only to Scheduler, and only from the functions that set timers', () => {
    // Prepare
    const { template } = synthesized();
    const roles = Object.keys(resourcesOfType(template, 'AWS::IAM::Role'));

    // Act
    const passers = roles.filter((role) =>
      statementsOfRole(template, role).some(
        (s) => s.Action === 'iam:PassRole' && JSON.stringify(s.Resource).includes('SchedulerRole'),
      ),
    );
    const pass = statementsOfRole(template, 'FnApiCreateOffloadRole').find(
      (s) => s.Action === 'iam:PassRole',
    );

    // Assess
    expect(passers.sort()).toEqual(
      [
        'FnApiCreateOffloadRole',
        'FnApiUpdateOffloadRole',
        'FnApiLaunchOffloadRole',
        'FnApiCreateScheduleRole',
        'FnApiUpdateScheduleRole',
        'FnApiPrestageScheduleRole',
        'FnStepsMarkRunningRole',
        'FnStepsFireTimerRole',
      ].sort(),
    );
    expect(pass?.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
  });

  it('run a one-Task timer workflow that hands the whole timer payload to FireTimer', () => {
    // Prepare
    const { template } = synthesized();

    // Act
    const def = stateMachineDefinition(template.toJSON(), 'TimerStateMachine') as {
      StartAt: string;
      States: Record<string, Record<string, unknown>>;
    };

    // Assess
    expect(def.StartAt).toBe('FireTimer');
    expect(Object.keys(def.States).sort()).toEqual(['FireTimer', 'Fired']);
    // No Parameters: the timer's payload (a job's or a schedule's) is the step's input as set.
    expect(def.States.FireTimer).toEqual({
      Type: 'Task',
      Resource: 'arn:aws:lambda:us-east-1:000000000000:function:FnStepsFireTimer',
      ResultPath: '$.fired',
      Retry: expect.any(Array),
      Next: 'Fired',
    });
  });
});
