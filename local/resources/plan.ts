import { type FilterRule, matchesEvent, matchesFilter } from '../s3/events';
import { type CfnTemplate, TemplateResolver } from './intrinsics';

/**
 * What the local cloud must create for a packaged stage, read from its CloudFormation template —
 * the one source of truth, so a resource added to serverless.yml exists locally too.
 */
export interface PlannedFunction {
  readonly logicalId: string;
  readonly functionName: string;
  /** `path/module.export` relative to the repository (image functions: their command). */
  readonly handler: string;
  readonly packageType: 'Zip' | 'Image';
  /** A zip function's runtime (nodejs22.x); an image brings its own. */
  readonly runtime?: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  readonly reservedConcurrency?: number;
}

export interface PlannedNotification {
  readonly functionName: string;
  readonly events: readonly string[];
  readonly rules: readonly FilterRule[];
}

export interface PlannedStreamMapping {
  readonly functionName: string;
  readonly streamName: string;
  readonly batchSize: number;
  readonly batchingWindowSeconds: number;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  readonly bisectOnError: boolean;
  /** -1: retry until the records expire, as AWS's default. */
  readonly maximumRetryAttempts: number;
  /** -1: no age limit. */
  readonly maximumRecordAgeSeconds: number;
  readonly reportBatchItemFailures: boolean;
  readonly onFailureQueueArn?: string;
  readonly enabled: boolean;
}

export interface LocalPlan {
  readonly buckets: readonly {
    readonly name: string;
    readonly notifications: readonly PlannedNotification[];
  }[];
  readonly streams: readonly { readonly name: string; readonly shards: number }[];
  readonly queues: readonly { readonly name: string }[];
  readonly topics: readonly { readonly name: string }[];
  readonly functions: readonly PlannedFunction[];
  readonly streamMappings: readonly PlannedStreamMapping[];
  readonly functionUrls: readonly { readonly functionName: string; readonly authType: 'AWS_IAM' | 'NONE' }[];
  /** Resources of other types, by type, for services that provision them (Glue, SageMaker, …). */
  readonly other: Readonly<
    Record<string, readonly { logicalId: string; properties: Record<string, unknown> }[]>
  >;
}

const functionNameOfArn = (value: unknown): string => {
  const text = String(value);
  const match = /:function:([^:]+)/.exec(text);
  return match?.[1] ?? text;
};

const streamNameOfArn = (value: unknown): string => String(value).replace(/^.*:stream\//, '');

export const localPlan = (template: CfnTemplate, stackName: string, sqsEndpoint?: string): LocalPlan => {
  const resolver = new TemplateResolver(template, stackName, sqsEndpoint);
  const plan = {
    buckets: [] as { name: string; notifications: PlannedNotification[] }[],
    streams: [] as { name: string; shards: number }[],
    queues: [] as { name: string }[],
    topics: [] as { name: string }[],
    functions: [] as PlannedFunction[],
    streamMappings: [] as PlannedStreamMapping[],
    functionUrls: [] as { functionName: string; authType: 'AWS_IAM' | 'NONE' }[],
    other: {} as Record<string, { logicalId: string; properties: Record<string, unknown> }[]>,
  };
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const p = (resolver.resolve(resource.Properties ?? {}) ?? {}) as Record<string, unknown>;
    switch (resource.Type) {
      case 'AWS::S3::Bucket': {
        // The deployment bucket has no fixed name and nothing to do locally.
        if (!p.BucketName) break;
        const config = (p.NotificationConfiguration ?? {}) as {
          LambdaConfigurations?: {
            Event: string;
            Function: string;
            Filter?: { S3Key?: { Rules?: FilterRule[] } };
          }[];
        };
        plan.buckets.push({
          name: String(p.BucketName),
          notifications: (config.LambdaConfigurations ?? []).map((c) => ({
            functionName: functionNameOfArn(c.Function),
            events: [c.Event],
            rules: c.Filter?.S3Key?.Rules ?? [],
          })),
        });
        break;
      }
      case 'AWS::Kinesis::Stream':
        plan.streams.push({ name: String(p.Name), shards: Number(p.ShardCount ?? 1) });
        break;
      case 'AWS::SQS::Queue':
        plan.queues.push({ name: resolver.physicalName(logicalId) });
        break;
      case 'AWS::SNS::Topic':
        plan.topics.push({ name: resolver.physicalName(logicalId) });
        break;
      case 'AWS::Lambda::Function': {
        const image = p.PackageType === 'Image';
        const command = (p.ImageConfig as { Command?: string[] } | undefined)?.Command?.[0];
        const handler = image ? command : (p.Handler as string | undefined);
        if (!handler) break;
        plan.functions.push({
          logicalId,
          functionName: resolver.physicalName(logicalId),
          handler,
          packageType: image ? 'Image' : 'Zip',
          ...(!image && p.Runtime !== undefined ? { runtime: String(p.Runtime) } : {}),
          environment: Object.fromEntries(
            Object.entries(
              (p.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {},
            ).map(([k, v]) => [k, String(v)]),
          ),
          timeoutSeconds: Number(p.Timeout ?? 3),
          memorySize: Number(p.MemorySize ?? 128),
          ...(p.ReservedConcurrentExecutions !== undefined
            ? { reservedConcurrency: Number(p.ReservedConcurrentExecutions) }
            : {}),
        });
        break;
      }
      case 'AWS::Lambda::Url':
        plan.functionUrls.push({
          functionName: functionNameOfArn(p.TargetFunctionArn),
          authType: p.AuthType === 'NONE' ? 'NONE' : 'AWS_IAM',
        });
        break;
      case 'AWS::Lambda::EventSourceMapping': {
        const source = String(p.EventSourceArn ?? '');
        if (!source.includes(':kinesis:')) break;
        const onFailure = (p.DestinationConfig as { OnFailure?: { Destination?: string } } | undefined)
          ?.OnFailure?.Destination;
        plan.streamMappings.push({
          functionName: functionNameOfArn(p.FunctionName),
          streamName: streamNameOfArn(source),
          batchSize: Number(p.BatchSize ?? 100),
          batchingWindowSeconds: Number(p.MaximumBatchingWindowInSeconds ?? 0),
          startingPosition: p.StartingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON',
          bisectOnError: p.BisectBatchOnFunctionError === true,
          maximumRetryAttempts: Number(p.MaximumRetryAttempts ?? -1),
          maximumRecordAgeSeconds: Number(p.MaximumRecordAgeInSeconds ?? -1),
          reportBatchItemFailures: ((p.FunctionResponseTypes as string[] | undefined) ?? []).includes(
            'ReportBatchItemFailures',
          ),
          ...(onFailure ? { onFailureQueueArn: onFailure } : {}),
          enabled: p.Enabled !== false,
        });
        break;
      }
      default: {
        const list = plan.other[resource.Type] ?? [];
        list.push({ logicalId, properties: p });
        plan.other[resource.Type] = list;
      }
    }
  }
  return plan;
};

/** The functions a new object in `bucket` triggers, by the bucket's notification rules. */
export const notificationTargets = (
  plan: LocalPlan,
  bucket: string,
  eventName: string,
  decodedKey: string,
): string[] =>
  (plan.buckets.find((b) => b.name === bucket)?.notifications ?? [])
    .filter((n) => matchesEvent(n.events, eventName) && matchesFilter(n.rules, decodedKey))
    .map((n) => n.functionName);
