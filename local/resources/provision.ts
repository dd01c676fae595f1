import { CreateStreamCommand, type KinesisClient, ResourceInUseException } from '@aws-sdk/client-kinesis';
import { BucketAlreadyOwnedByYou, CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import type { RunningLambda } from '../lambda';
import type { LocalPlan } from './plan';

/**
 * Creates what a plan lists, through the same SDK calls a user would make, so it is idempotent: a
 * restart finds its buckets and streams already there and moves on.
 */
export interface ProvisionTargets {
  readonly s3: S3Client;
  readonly kinesis: KinesisClient;
  readonly lambda: RunningLambda;
  /** Repository root: handlers are resolved from here. */
  readonly root: string;
  /** Added to every function's environment: how its SDK clients reach the local cloud. */
  readonly environment: Readonly<Record<string, string>>;
}

export const provision = async (plan: LocalPlan, t: ProvisionTargets): Promise<void> => {
  for (const bucket of plan.buckets) {
    try {
      await t.s3.send(new CreateBucketCommand({ Bucket: bucket.name }));
    } catch (error) {
      if (!(error instanceof BucketAlreadyOwnedByYou) && (error as Error).name !== 'BucketAlreadyExists')
        throw error;
    }
  }
  for (const stream of plan.streams) {
    try {
      await t.kinesis.send(new CreateStreamCommand({ StreamName: stream.name, ShardCount: stream.shards }));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
  }
  for (const fn of plan.functions) {
    t.lambda.register({
      functionName: fn.functionName,
      handler: fn.handler,
      packageType: fn.packageType,
      ...(fn.runtime !== undefined ? { runtime: fn.runtime } : {}),
      root: t.root,
      environment: { ...fn.environment, ...t.environment },
      timeoutSeconds: fn.timeoutSeconds,
      memorySize: fn.memorySize,
      ...(fn.reservedConcurrency !== undefined ? { concurrency: fn.reservedConcurrency } : {}),
    });
  }
  for (const url of plan.functionUrls) t.lambda.registerUrl(url);
};
