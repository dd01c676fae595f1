import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { runSql } from '../../../functions/shared/table';
import { type LocalCloud, startLocalCloud } from '../../../local/cloud';
import type { CfnTemplate } from '../../../local/resources/intrinsics';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localS3Config } from '../../../local/types';

const run = promisify(execFile);

const s3Of = (cloud: LocalCloud) => new S3Client(localS3Config(cloud.s3.url));

/**
 * The AWS CLI v2, configured by nothing but the local cloud's endpoints.env. Debian's CLI (2.9)
 * predates the AWS_ENDPOINT_URL_<SERVICE> variables (2.13), so the service's URL from the file is
 * also passed as --endpoint-url, as a user of that CLI would.
 */
const aws = async (dataDir: string, service: string, args: string[]) => {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
  for (const line of readFileSync(join(dataDir, 'endpoints.env'), 'utf8').split('\n')) {
    const match = /^export ([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match) env[match[1] as string] = match[2] as string;
  }
  const key = { s3api: 'S3', stepfunctions: 'SFN' }[service] ?? service.toUpperCase();
  const endpoint = env[`AWS_ENDPOINT_URL_${key}`] ?? '';
  const { stdout } = await run(
    '/usr/bin/aws',
    ['--endpoint-url', endpoint, service, ...args, '--output', 'json'],
    { env },
  );
  // Some commands answer nothing (sqs delete-message).
  return (stdout.trim() === '' ? {} : JSON.parse(stdout)) as Record<string, unknown>;
};

describe('the local cloud of the local stage', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-cloud-'));
  let cloud: LocalCloud;
  beforeAll(async () => {
    cloud = await startLocalCloud({ dataDir, port: 0 });
  });
  afterAll(async () => {
    await cloud.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("creates serverless.yml's buckets and streams, which the AWS CLI finds through endpoints.env", async () => {
    const buckets = (await aws(dataDir, 's3api', ['list-buckets'])).Buckets as { Name: string }[];
    expect(buckets.map((b) => b.Name).sort()).toEqual([
      'mlpipe-local-artifacts',
      'mlpipe-local-curated',
      'mlpipe-local-raw',
    ]);
    const streams = (await aws(dataDir, 'kinesis', ['list-streams'])).StreamNames as string[];
    expect(streams.sort()).toEqual(['mlpipe-local-events', 'mlpipe-local-predictions']);
  });

  it('answers the AWS CLI for streams, executions and the model registry as it answers the SDK', async () => {
    const put = await aws(dataDir, 'kinesis', [
      'put-record',
      '--stream-name',
      'mlpipe-local-events',
      '--partition-key',
      'cli',
      '--data',
      Buffer.from('{"from":"the cli"}').toString('base64'),
    ]);
    expect(put.ShardId).toBe('shardId-000000000000');
    const iterator = await aws(dataDir, 'kinesis', [
      'get-shard-iterator',
      '--stream-name',
      'mlpipe-local-events',
      '--shard-id',
      String(put.ShardId),
      '--shard-iterator-type',
      'AT_SEQUENCE_NUMBER',
      '--starting-sequence-number',
      String(put.SequenceNumber),
    ]);
    const got = await aws(dataDir, 'kinesis', [
      'get-records',
      '--shard-iterator',
      String(iterator.ShardIterator),
    ]);
    const records = got.Records as { Data: string }[];
    expect(Buffer.from(records[0]?.Data ?? '', 'base64').toString()).toBe('{"from":"the cli"}');

    const machines = (await aws(dataDir, 'stepfunctions', ['list-state-machines'])).stateMachines as {
      name: string;
      stateMachineArn: string;
    }[];
    expect(machines.map((m) => m.name)).toEqual(['mlpipe-local-training']);
    const executions = await aws(dataDir, 'stepfunctions', [
      'list-executions',
      '--state-machine-arn',
      machines[0]?.stateMachineArn ?? '',
    ]);
    expect(executions.executions).toEqual([]);
    const groups = (await aws(dataDir, 'sagemaker', ['list-model-package-groups']))
      .ModelPackageGroupSummaryList as {
      ModelPackageGroupName: string;
    }[];
    expect(groups.map((g) => g.ModelPackageGroupName)).toEqual(
      expect.arrayContaining(['mlpipe-local-penguins', 'mlpipe-local-flights']),
    );
  });

  it("answers Debian's AWS CLI (2.9, the query protocol) for the failures queue and CloudWatch", async () => {
    const { QueueUrl } = await aws(dataDir, 'sqs', [
      'get-queue-url',
      '--queue-name',
      'mlpipe-local-infer-failures',
    ]);
    const body = '{"reason":"bad-json","detail":"<not> & \\"quoted\\""}';
    const sent = await aws(dataDir, 'sqs', [
      'send-message',
      '--queue-url',
      String(QueueUrl),
      '--message-body',
      body,
    ]);
    // The CLI checks each body against its MD5, so a badly escaped answer fails the call.
    const got = await aws(dataDir, 'sqs', [
      'receive-message',
      '--queue-url',
      String(QueueUrl),
      '--max-number-of-messages',
      '10',
      '--attribute-names',
      'All',
    ]);
    // The earlier test's record, which no pipeline claims, may be in the queue too: the stream
    // function sent it there.
    const messages = got.Messages as { MessageId: string; ReceiptHandle: string }[];
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          MessageId: sent.MessageId,
          Body: body,
          Attributes: expect.objectContaining({ ApproximateReceiveCount: '1' }),
        }),
      ]),
    );
    const receipt = messages.find((m) => m.MessageId === sent.MessageId)?.ReceiptHandle ?? '';
    await aws(dataDir, 'sqs', [
      'delete-message',
      '--queue-url',
      String(QueueUrl),
      '--receipt-handle',
      receipt,
    ]);
    const attributes = await aws(dataDir, 'sqs', [
      'get-queue-attributes',
      '--queue-url',
      String(QueueUrl),
      '--attribute-names',
      'All',
    ]);
    const left = attributes.Attributes as Record<string, string>;
    expect(left.QueueArn).toBe('arn:aws:sqs:us-east-1:000000000000:mlpipe-local-infer-failures');
    // Deleted: of what was received, only the others are left (in flight).
    expect(
      Number(left.ApproximateNumberOfMessages) + Number(left.ApproximateNumberOfMessagesNotVisible),
    ).toBe(messages.length - 1);
    await expect(aws(dataDir, 'sqs', ['get-queue-url', '--queue-name', 'nope'])).rejects.toThrow(
      /AWS\.SimpleQueueService\.NonExistentQueue/,
    );

    const metric = ['--namespace', 'cli/test', '--metric-name', 'Latency'];
    await aws(dataDir, 'cloudwatch', [
      'put-metric-data',
      '--namespace',
      'cli/test',
      '--metric-data',
      JSON.stringify([
        {
          MetricName: 'Latency',
          Dimensions: [{ Name: 'Pipeline', Value: 'penguins' }],
          Values: [10, 20, 30],
        },
      ]),
    ]);
    const at = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();
    const stats = await aws(dataDir, 'cloudwatch', [
      'get-metric-statistics',
      ...metric,
      '--dimensions',
      'Name=Pipeline,Value=penguins',
      '--start-time',
      at(-60_000),
      '--end-time',
      at(60_000),
      '--period',
      '3600',
      '--statistics',
      'Sum',
      '--extended-statistics',
      'p50',
    ]);
    expect(stats.Datapoints).toEqual([
      { Timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), Sum: 60, ExtendedStatistics: { p50: 20 } },
    ]);
    const alarms = (await aws(dataDir, 'cloudwatch', ['describe-alarms'])).MetricAlarms as {
      AlarmName: string;
      StateValue: string;
    }[];
    expect(alarms.map((a) => a.AlarmName)).toContain('mlpipe-local-penguins-challenger-errors');
  });

  it('answers the AWS CLI for Athena: its work groups, and a query naming a table of its context database', async () => {
    const groups = (await aws(dataDir, 'athena', ['list-work-groups'])).WorkGroups as { Name: string }[];
    expect(groups.map((g) => g.Name)).toContain('mlpipe-local');
    // One curated file of penguins, where the Glue table curated_penguins looks.
    const file = join(dataDir, 'curated.parquet');
    await runSql([
      `COPY (SELECT * FROM (VALUES ('Adelie', 39.1), ('Gentoo', 46.1)) AS t("Species", "Beak Length (mm)")) TO '${file}' (FORMAT parquet)`,
    ]);
    await s3Of(cloud).send(
      new PutObjectCommand({
        Bucket: 'mlpipe-local-curated',
        Key: 'curated/penguins/ingest=cli/split=train/part-00000.parquet',
        Body: readFileSync(file),
      }),
    );
    const { QueryExecutionId } = await aws(dataDir, 'athena', [
      'start-query-execution',
      '--query-string',
      'SELECT split, count(*) AS n FROM curated_penguins GROUP BY split',
      '--query-execution-context',
      'Database=mlpipe_local',
      '--work-group',
      'mlpipe-local',
    ]);
    let state = 'QUEUED';
    for (let i = 0; i < 100 && (state === 'QUEUED' || state === 'RUNNING'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const { QueryExecution } = await aws(dataDir, 'athena', [
        'get-query-execution',
        '--query-execution-id',
        String(QueryExecutionId),
      ]);
      const status = (QueryExecution as { Status: { State: string; StateChangeReason?: string } }).Status;
      state = status.State;
      expect(status.StateChangeReason).toBeUndefined();
    }
    expect(state).toBe('SUCCEEDED');
    const results = await aws(dataDir, 'athena', [
      'get-query-results',
      '--query-execution-id',
      String(QueryExecutionId),
    ]);
    const rows = (results.ResultSet as { Rows: { Data: { VarCharValue?: string }[] }[] }).Rows.map((r) =>
      r.Data.map((d) => d.VarCharValue),
    );
    expect(rows).toEqual([
      ['split', 'n'],
      ['train', '2'],
    ]);
  });

  it('keeps its objects and resources across a restart', async () => {
    const s3 = s3Of(cloud);
    await s3.send(
      new PutObjectCommand({ Bucket: 'mlpipe-local-artifacts', Key: 'kept.json', Body: '{"kept":true}' }),
    );
    s3.destroy();
    await cloud.stop();
    cloud = await startLocalCloud({ dataDir, port: 0 });
    const again = s3Of(cloud);
    const got = await again.send(
      new GetObjectCommand({ Bucket: 'mlpipe-local-artifacts', Key: 'kept.json' }),
    );
    expect(await got.Body?.transformToString()).toBe('{"kept":true}');
    again.destroy();
  });
});

describe('S3 notifications from the template', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-notify-'));
  const template: CfnTemplate = {
    Resources: {
      RawBucket: {
        Type: 'AWS::S3::Bucket',
        Properties: {
          BucketName: 'mlpipe-local-raw',
          NotificationConfiguration: {
            LambdaConfigurations: [
              {
                Event: 's3:ObjectCreated:*',
                Function: { 'Fn::GetAtt': ['NotifiedLambdaFunction', 'Arn'] },
                Filter: {
                  S3Key: {
                    Rules: [
                      { Name: 'prefix', Value: 'incoming/' },
                      { Name: 'suffix', Value: '.csv' },
                    ],
                  },
                },
              },
            ],
          },
        },
      },
      NotifiedLambdaFunction: {
        Type: 'AWS::Lambda::Function',
        Properties: {
          FunctionName: 'mlpipe-local-notified',
          Handler: 'test/events/local/functions/notified.handler',
          Timeout: 30,
          MemorySize: 256,
        },
      },
    },
  };
  let cloud: LocalCloud;
  beforeAll(async () => {
    cloud = await startLocalCloud({ dataDir, port: 0, template });
  });
  afterAll(async () => {
    await cloud.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('invokes the function for keys that match the prefix and suffix rules only', async () => {
    const s3 = s3Of(cloud);
    for (const key of ['incoming/penguins/a b.csv', 'incoming/penguins/b.json', 'other/c.csv']) {
      await s3.send(new PutObjectCommand({ Bucket: 'mlpipe-local-raw', Key: key, Body: 'x\n1\n' }));
    }
    await cloud.settle();
    const seen = await s3.send(new ListObjectsV2Command({ Bucket: 'mlpipe-local-raw', Prefix: 'seen/' }));
    expect((seen.Contents ?? []).map((o) => o.Key)).toEqual(['seen/incoming/penguins/a b.csv.json']);
    const record = JSON.parse(
      (await (
        await s3.send(
          new GetObjectCommand({ Bucket: 'mlpipe-local-raw', Key: 'seen/incoming/penguins/a b.csv.json' }),
        )
      ).Body?.transformToString()) ?? '{}',
    ) as { eventName: string; s3: { object: { key: string } } };
    expect(record.eventName).toBe('ObjectCreated:Put');
    expect(record.s3.object.key).toBe('incoming/penguins/a+b.csv');
    s3.destroy();
  });
});

describe('state machines from the template', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-machines-'));
  const definition = {
    StartAt: 'Double',
    States: {
      Double: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder, resolved by the template
        Parameters: { FunctionName: '${StepFunctionArn}', Payload: { op: 'double', 'value.$': '$.value' } },
        OutputPath: '$.Payload',
        End: true,
      },
    },
  };
  const template: CfnTemplate = {
    Resources: {
      StepLambdaFunction: {
        Type: 'AWS::Lambda::Function',
        Properties: {
          FunctionName: 'mlpipe-local-step',
          Handler: 'test/events/local/functions/step.handler',
          Timeout: 10,
        },
      },
      TrainingStateMachine: {
        Type: 'AWS::StepFunctions::StateMachine',
        Properties: {
          StateMachineName: 'mlpipe-local-training',
          DefinitionString: {
            'Fn::Sub': [
              JSON.stringify(definition),
              { StepFunctionArn: { 'Fn::GetAtt': ['StepLambdaFunction', 'Arn'] } },
            ],
          },
          RoleArn: 'arn:aws:iam::000000000000:role/mlpipe-local-training-states',
        },
      },
    },
  };
  let cloud: LocalCloud;
  beforeAll(async () => {
    cloud = await startLocalCloud({ dataDir, port: 0, template });
  });
  afterAll(async () => {
    await cloud.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates them with their resolved definitions and runs them against the local functions', async () => {
    const sfn = new SFNClient({
      endpoint: cloud.sfn.url,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:mlpipe-local-training',
        input: '{"value": 5}',
      }),
    );
    await cloud.sfn.idle();
    const done = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(done).toMatchObject({ status: 'SUCCEEDED', output: '{"value":10}' });
    sfn.destroy();
  });
});
