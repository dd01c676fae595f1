import type { S3EventRecord } from 'aws-lambda';
import type { RunningLambda } from '../lambda';
import type { LocalPlan } from '../resources/plan';
import { notificationTargets } from '../resources/plan';
import { decodeEventKey, type RunningS3 } from '../s3';

/**
 * S3 → Lambda notifications, by the buckets' NotificationConfiguration: each new object triggers the
 * functions whose event and prefix/suffix rules match, asynchronously, with AWS's two retries on a
 * function error. https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html
 */
export interface NotificationOutcome {
  readonly functionName: string;
  readonly record: S3EventRecord;
  readonly ok: boolean;
  readonly attempts: number;
  readonly error?: string;
}

export const connectS3Notifications = (
  s3: RunningS3,
  lambda: RunningLambda,
  plan: LocalPlan,
  onOutcome: (outcome: NotificationOutcome) => void = () => {},
): { drain(): Promise<void>; close(): void } => {
  const inFlight = new Set<Promise<void>>();
  const deliver = async (functionName: string, record: S3EventRecord) => {
    const { result, attempts } = await lambda.invokeAsync(functionName, { Records: [record] });
    onOutcome({
      functionName,
      record,
      ok: result.ok,
      attempts,
      ...(result.ok ? {} : { error: `${result.error.errorType}: ${result.error.errorMessage}` }),
    });
  };
  const listener = (record: S3EventRecord) => {
    const key = decodeEventKey(record.s3.object.key);
    for (const functionName of notificationTargets(plan, record.s3.bucket.name, record.eventName, key)) {
      if (!lambda.pool(functionName)) continue;
      const delivery = deliver(functionName, record);
      inFlight.add(delivery);
      void delivery.finally(() => inFlight.delete(delivery));
    }
  };
  s3.events.on('record', listener);
  return {
    drain: async () => {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    close: () => {
      s3.events.off('record', listener);
    },
  };
};
