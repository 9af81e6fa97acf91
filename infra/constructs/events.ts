import * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import { fixLogicalId } from './nag';
import { EVENT_BUS_NAME } from './names';

/**
 * The gateway's own event bus. Every job state change is published to it as a
 * `Job State Changed` event with source `burstgate`, so schedulers and chat hooks can subscribe
 * with a rule instead of polling the API.
 */
export class GatewayEvents extends Construct {
  readonly bus: events.EventBus;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus', { eventBusName: EVENT_BUS_NAME });
    fixLogicalId(this.bus, 'EventBus');
  }
}
