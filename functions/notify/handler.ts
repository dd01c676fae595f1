import { Logger } from '@aws-lambda-powertools/logger';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SNSClient } from '@aws-sdk/client-sns';
import type { TrainingNotification } from '../../core/pipeline';
import { loadConfig } from '../shared/config';
import { parseEvent } from '../shared/event';
import { notify, notifyEventSchema } from './notify';

const settings = loadConfig('notificationsTopicArn', 'eventBusName');
const sns = new SNSClient({});
const events = new EventBridgeClient({});
const logger = new Logger({ serviceName: 'mlpipe-notify' });

export const handler = async (event: unknown): Promise<TrainingNotification> => {
  const parsed = parseEvent(notifyEventSchema, event, 'the notify step');
  const notification = await notify(parsed, { sns, events, settings });
  logger.info('notified', { ...notification });
  return notification;
};
