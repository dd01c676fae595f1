import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import * as z from 'zod';
import {
  describeOutcome,
  notificationSubject,
  OUTCOMES,
  runStateSchema,
  type TrainingNotification,
} from '../../core/pipeline';

/**
 * The notify step, on every outcome (and while a model waits for a person): one SNS message for
 * people and one EventBridge event for automation, with the same content.
 */
export const notifyEventSchema = z.object({
  outcome: z.enum(OUTCOMES),
  execution: z.string().min(1),
  taskToken: z.string().optional(),
  run: runStateSchema,
});
export type NotifyEvent = z.output<typeof notifyEventSchema>;

export const EVENT_SOURCE = 'mlpipe.training';
export const detailType = (n: TrainingNotification): string =>
  `Training Run ${n.outcome.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => `${dash ? ' ' : ''}${c.toUpperCase()}`)}`;

export class NotificationError extends Error {
  override name = 'NotificationError';
}

export const notify = async (
  event: NotifyEvent,
  deps: {
    sns: SNSClient;
    events: EventBridgeClient;
    settings: { notificationsTopicArn: string; eventBusName: string };
    now?: () => Date;
  },
): Promise<TrainingNotification> => {
  const notification = describeOutcome(
    event.outcome,
    event.run,
    event.execution,
    (deps.now ?? (() => new Date()))(),
  );
  await deps.sns.send(
    new PublishCommand({
      TopicArn: deps.settings.notificationsTopicArn,
      Subject: notificationSubject(notification),
      Message: JSON.stringify(notification, null, 2),
      MessageAttributes: {
        pipeline: { DataType: 'String', StringValue: notification.pipeline },
        outcome: { DataType: 'String', StringValue: notification.outcome },
      },
    }),
  );
  const put = await deps.events.send(
    new PutEventsCommand({
      Entries: [
        {
          Source: EVENT_SOURCE,
          DetailType: detailType(notification),
          Detail: JSON.stringify(notification),
          EventBusName: deps.settings.eventBusName,
          Resources: [event.execution],
        },
      ],
    }),
  );
  if ((put.FailedEntryCount ?? 0) > 0)
    throw new NotificationError(
      `EventBridge refused the event: ${put.Entries?.[0]?.ErrorMessage ?? 'no reason'}`,
    );
  return notification;
};
