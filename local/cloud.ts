import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AthenaClient, CreateWorkGroupCommand } from '@aws-sdk/client-athena';
import { CloudWatchClient, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateDatabaseCommand,
  CreateTableCommand,
  GlueClient,
  UpdateTableCommand,
} from '@aws-sdk/client-glue';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { CreateModelPackageGroupCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import {
  CreateStateMachineCommand,
  SFNClient,
  StateMachineAlreadyExists,
  UpdateStateMachineCommand,
} from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startAthena } from './athena';
import { type RunningCloudWatch, startCloudWatch } from './cloudwatch';
import { type StreamPollers, startStreamMapping } from './event-sources/kinesis';
import { connectS3Notifications, type NotificationOutcome } from './event-sources/s3';
import { startGlue } from './glue';
import { type RunningKinesis, startKinesis } from './kinesis';
import { type LogLine, type RunningLambda, startLambda } from './lambda';
import { type RunningSqs, startSqs } from './messaging/sqs';
import { type RunningEventBridge, startEventBridge } from './notifications/eventbridge';
import { type RunningSns, startSns } from './notifications/sns';
import { announceCloud, withdrawCloud } from './presence';
import type { CfnTemplate } from './resources/intrinsics';
import { packageStage, REPO_ROOT } from './resources/package';
import { type LocalPlan, localPlan } from './resources/plan';
import { provision } from './resources/provision';
import { type RunningS3, startS3 } from './s3';
import { type RunningSageMaker, startSageMaker } from './sagemaker';
import { type RunningSfn, startSfn } from './sfn';
import {
  LOCAL_ACCOUNT_ID,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  LOCAL_SERVICES,
  type LocalServiceKey,
  localClientConfig,
  localS3Config,
} from './types';

/**
 * The local cloud: every emulated service on loopback, the stage's resources created from its
 * packaged template, and the event sources wired. `endpoints.env` in the data folder tells any SDK
 * or the AWS CLI where to find it.
 */
export interface LocalCloudOptions {
  readonly dataDir: string;
  /** The first port of a consecutive range in LOCAL_SERVICES order; 0 lets the system pick each. */
  readonly port?: number;
  readonly stage?: string;
  /** A packaged template to provision instead of packaging serverless.yml (tests). */
  readonly template?: CfnTemplate;
  readonly onLog?: (line: LogLine) => void;
  readonly onNotification?: (outcome: NotificationOutcome) => void;
  /** Each output line of a local training job. */
  readonly onTrainingLog?: (job: string, line: string) => void;
}

export interface LocalCloud {
  readonly endpoints: Readonly<Partial<Record<LocalServiceKey, string>>>;
  /** The variables of endpoints.env. */
  readonly env: Readonly<Record<string, string>>;
  readonly plan: LocalPlan;
  readonly s3: RunningS3;
  readonly kinesis: RunningKinesis;
  readonly lambda: RunningLambda;
  readonly sqs: RunningSqs;
  readonly sfn: RunningSfn;
  readonly sagemaker: RunningSageMaker;
  readonly cloudwatch: RunningCloudWatch;
  readonly sns: RunningSns;
  readonly eventbridge: RunningEventBridge;
  /** Waits until every S3 notification in flight has been delivered. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export const DEFAULT_LOCAL_PORT = 4580;

const portFor = (base: number, key: LocalServiceKey): number =>
  base === 0 ? 0 : base + LOCAL_SERVICES.indexOf(key);

export const endpointsEnv = (
  endpoints: Partial<Record<LocalServiceKey, string>>,
): Record<string, string> => ({
  ...Object.fromEntries(Object.entries(endpoints).map(([key, url]) => [`AWS_ENDPOINT_URL_${key}`, url])),
  AWS_REGION: LOCAL_REGION,
  AWS_DEFAULT_REGION: LOCAL_REGION,
  AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  // s3rver stores SDK v3's aws-chunked uploads with their framing unless checksums are opt-in.
  AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
  AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required',
});

/** Ignores "already exists": provisioning runs on every start over persisted state. */
const createOnce = async (create: () => Promise<unknown>, exists: (e: Error) => boolean): Promise<void> => {
  try {
    await create();
  } catch (error) {
    if (!exists(error as Error)) throw error;
  }
};

/**
 * Glue databases and tables, Athena work groups, SageMaker model package groups, CloudWatch alarms
 * and SNS topics of the template.
 */
const provisionAnalytics = async (
  plan: LocalPlan,
  endpoints: {
    readonly GLUE: string;
    readonly ATHENA: string;
    readonly SAGEMAKER: string;
    readonly CLOUDWATCH: string;
    readonly SNS: string;
  },
): Promise<void> => {
  const cloudwatch = new CloudWatchClient(localClientConfig(endpoints.CLOUDWATCH));
  const sns = new SNSClient(localClientConfig(endpoints.SNS));
  try {
    for (const { properties } of plan.other['AWS::CloudWatch::Alarm'] ?? [])
      await cloudwatch.send(new PutMetricAlarmCommand(properties as never));
    for (const topic of plan.topics) await sns.send(new CreateTopicCommand({ Name: topic.name }));
  } finally {
    cloudwatch.destroy();
    sns.destroy();
  }
  const glue = new GlueClient(localClientConfig(endpoints.GLUE));
  const athena = new AthenaClient(localClientConfig(endpoints.ATHENA));
  const sagemaker = new SageMakerClient(localClientConfig(endpoints.SAGEMAKER));
  const exists = (e: Error) => /AlreadyExists|already exists/i.test(`${e.name} ${e.message}`);
  try {
    for (const { properties } of plan.other['AWS::Glue::Database'] ?? [])
      await createOnce(() => glue.send(new CreateDatabaseCommand(properties as never)), exists);
    for (const { properties } of plan.other['AWS::Glue::Table'] ?? []) {
      // A changed spec changes its table: update what exists.
      await glue.send(new CreateTableCommand(properties as never)).catch(async (error: Error) => {
        if (!exists(error)) throw error;
        await glue.send(new UpdateTableCommand(properties as never));
      });
    }
    for (const { properties } of plan.other['AWS::Athena::WorkGroup'] ?? []) {
      const config = (properties.WorkGroupConfiguration ?? {}) as Record<string, unknown>;
      await createOnce(
        () =>
          athena.send(
            new CreateWorkGroupCommand({ Name: String(properties.Name), Configuration: config as never }),
          ),
        exists,
      );
    }
    for (const { properties } of plan.other['AWS::SageMaker::ModelPackageGroup'] ?? [])
      await createOnce(() => sagemaker.send(new CreateModelPackageGroupCommand(properties as never)), exists);
  } finally {
    glue.destroy();
    athena.destroy();
    sagemaker.destroy();
  }
};

/**
 * The template's state machines: the same definitions that deploy (serverless-step-functions'
 * DefinitionString), names resolved; a changed serverless.yml updates them on the next start.
 */
const provisionStateMachines = async (plan: LocalPlan, endpoint: string): Promise<void> => {
  const client = new SFNClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    for (const { properties } of plan.other['AWS::StepFunctions::StateMachine'] ?? []) {
      const machine = {
        name: String(properties.StateMachineName),
        definition: String(properties.DefinitionString),
        roleArn: String(properties.RoleArn ?? ''),
      };
      try {
        await client.send(new CreateStateMachineCommand(machine));
      } catch (error) {
        if (!(error instanceof StateMachineAlreadyExists)) throw error;
        const stateMachineArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:${machine.name}`;
        await client.send(
          new UpdateStateMachineCommand({
            stateMachineArn,
            definition: machine.definition,
            roleArn: machine.roleArn,
          }),
        );
      }
    }
  } finally {
    client.destroy();
  }
};

export const startLocalCloud = async (options: LocalCloudOptions): Promise<LocalCloud> => {
  const { dataDir, port = DEFAULT_LOCAL_PORT, stage = 'local' } = options;
  mkdirSync(dataDir, { recursive: true });
  const template =
    options.template ?? (await packageStage(stage, join(dataDir, 'package'), { templateOnly: true }));
  const stopped: (() => Promise<void>)[] = [];
  try {
    const s3 = await startS3({ port: portFor(port, 'S3'), dataDir });
    stopped.push(s3.stop);
    const kinesis = await startKinesis({ port: portFor(port, 'KINESIS'), dataDir });
    stopped.push(kinesis.stop);
    // Function logs feed CloudWatch metrics (EMF lines), which starts after the Lambda endpoint.
    let captureMetrics: (line: string) => void = () => {};
    const lambda = await startLambda({
      port: portFor(port, 'LAMBDA'),
      onLog: (line) => {
        captureMetrics(line.line);
        options.onLog?.(line);
      },
    });
    stopped.push(lambda.stop);
    const glue = await startGlue({ port: portFor(port, 'GLUE'), dataDir });
    stopped.push(glue.stop);
    const athena = await startAthena({
      port: portFor(port, 'ATHENA'),
      dataDir,
      s3Endpoint: s3.url,
      glueEndpoint: glue.url,
    });
    stopped.push(athena.stop);
    const sagemaker = await startSageMaker({
      port: portFor(port, 'SAGEMAKER'),
      dataDir,
      s3Endpoint: s3.url,
      ...(options.onTrainingLog ? { onTrainingLog: options.onTrainingLog } : {}),
    });
    stopped.push(sagemaker.stop);
    const sfn = await startSfn({
      port: portFor(port, 'SFN'),
      dataDir,
      lambdaEndpoint: lambda.url,
      endpoints: { ATHENA: athena.url, SAGEMAKER: sagemaker.url },
    });
    stopped.push(sfn.stop);
    const sqs = await startSqs({ port: portFor(port, 'SQS'), dataDir });
    stopped.push(sqs.stop);
    const cloudwatch = await startCloudWatch({ port: portFor(port, 'CLOUDWATCH'), dataDir });
    stopped.push(cloudwatch.stop);
    captureMetrics = cloudwatch.captureLog;
    const sns = await startSns({ port: portFor(port, 'SNS'), dataDir });
    stopped.push(sns.stop);
    const eventbridge = await startEventBridge({ port: portFor(port, 'EVENTBRIDGE'), dataDir });
    stopped.push(eventbridge.stop);
    const endpoints = {
      S3: s3.url,
      KINESIS: kinesis.url,
      LAMBDA: lambda.url,
      SFN: sfn.url,
      SAGEMAKER: sagemaker.url,
      ATHENA: athena.url,
      GLUE: glue.url,
      CLOUDWATCH: cloudwatch.url,
      SNS: sns.url,
      EVENTBRIDGE: eventbridge.url,
      SQS: sqs.url,
    };
    const env = endpointsEnv(endpoints);
    writeFileSync(
      join(dataDir, 'endpoints.env'),
      `# The mlpipe local cloud (${dataDir}). \`source\` this file to point any AWS SDK (and AWS CLI >= 2.13)\n# at it; an older AWS CLI needs --endpoint-url "$AWS_ENDPOINT_URL_S3" (or the service's variable).\n${Object.entries(
        env,
      )
        .map(([k, v]) => `export ${k}=${v}`)
        .join('\n')}\n`,
    );
    const plan = localPlan(template, `mlpipe-${stage}`, sqs.url);
    const s3Client = new S3Client(localS3Config(s3.url));
    const kinesisClient = new KinesisClient({
      endpoint: kinesis.url,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      requestHandler: new NodeHttpHandler(),
    });
    const sqsClient = new SQSClient({
      endpoint: sqs.url,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      await provision(plan, {
        s3: s3Client,
        kinesis: kinesisClient,
        lambda,
        root: REPO_ROOT,
        environment: env,
      });
      for (const queue of plan.queues)
        await sqsClient.send(new CreateQueueCommand({ QueueName: queue.name }));
      await provisionAnalytics(plan, endpoints);
      await provisionStateMachines(plan, sfn.url);
    } finally {
      s3Client.destroy();
    }
    const notifications = connectS3Notifications(s3, lambda, plan, options.onNotification);
    const pollers: StreamPollers[] = [];
    stopped.push(async () => {
      await Promise.all(pollers.map((p) => p.stop()));
      kinesisClient.destroy();
      sqsClient.destroy();
    });
    for (const mapping of plan.streamMappings.filter((m) => m.enabled && lambda.pool(m.functionName))) {
      pollers.push(
        await startStreamMapping({
          mapping,
          kinesis: kinesisClient,
          sqs: sqsClient,
          sqsQueueUrl: (arn) => sqs.queueUrl(arn.slice(arn.lastIndexOf(':') + 1)),
          lambda,
          dataDir,
        }),
      );
    }
    announceCloud(dataDir, { pid: process.pid, stage, startedAt: new Date().toISOString(), endpoints });
    return {
      endpoints,
      env,
      plan,
      s3,
      kinesis,
      lambda,
      sqs,
      sfn,
      sagemaker,
      cloudwatch,
      sns,
      eventbridge,
      settle: async () => {
        await s3.flush();
        await notifications.drain();
        await Promise.all(pollers.map((p) => p.idle()));
      },
      stop: async () => {
        withdrawCloud(dataDir);
        notifications.close();
        await notifications.drain();
        for (const stop of stopped.reverse()) await stop();
      },
    };
  } catch (error) {
    for (const stop of stopped.reverse()) await stop().catch(() => {});
    throw error;
  }
};
