import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CfnTemplate } from '../../../local/resources/intrinsics';
import { localPlan, notificationTargets } from '../../../local/resources/plan';

const template = JSON.parse(
  readFileSync(join(__dirname, '../../events/local/template.json'), 'utf8'),
) as CfnTemplate;
const plan = localPlan(template, 'mlpipe-local', 'http://127.0.0.1:4576');

describe('the local plan read from a packaged template', () => {
  it('finds named buckets with their notifications, and skips the deployment bucket', () => {
    expect(plan.buckets).toEqual([
      {
        name: 'mlpipe-local-raw',
        notifications: [
          {
            functionName: 'mlpipe-local-ingest',
            events: ['s3:ObjectCreated:*'],
            rules: [
              { Name: 'prefix', Value: 'incoming/' },
              { Name: 'suffix', Value: '.csv' },
            ],
          },
        ],
      },
    ]);
  });

  it('resolves Ref, Fn::GetAtt and Fn::Sub in function environments as AWS would', () => {
    const ingest = plan.functions.find((f) => f.functionName === 'mlpipe-local-ingest');
    expect(ingest).toMatchObject({
      handler: 'functions/ingest/handler.handler',
      timeoutSeconds: 900,
      memorySize: 2048,
      environment: {
        RAW_BUCKET: 'mlpipe-local-raw',
        MACHINE: 'arn:aws:states:us-east-1:000000000000:stateMachine:mlpipe-local-training',
        QUEUE: 'http://127.0.0.1:4576/000000000000/mlpipe-local-infer-failures',
      },
    });
  });

  it('runs an image function from the handler its command names', () => {
    const infer = plan.functions.find((f) => f.functionName === 'mlpipe-local-infer');
    expect(infer).toMatchObject({ handler: 'functions/infer/handler.stream', packageType: 'Image' });
    expect(infer?.runtime).toBeUndefined();
    expect(plan.functions.find((f) => f.functionName === 'mlpipe-local-ingest')).toMatchObject({
      packageType: 'Zip',
      runtime: 'nodejs22.x',
    });
  });

  it('reads a Kinesis event source mapping with all its settings', () => {
    expect(plan.streamMappings).toEqual([
      {
        functionName: 'mlpipe-local-infer',
        streamName: 'mlpipe-local-events',
        batchSize: 500,
        batchingWindowSeconds: 1,
        startingPosition: 'TRIM_HORIZON',
        bisectOnError: true,
        maximumRetryAttempts: 2,
        maximumRecordAgeSeconds: -1,
        reportBatchItemFailures: true,
        onFailureQueueArn: 'arn:aws:sqs:us-east-1:000000000000:mlpipe-local-infer-failures',
        enabled: true,
      },
    ]);
    expect(plan.streams).toEqual([{ name: 'mlpipe-local-events', shards: 2 }]);
  });

  it('applies prefix and suffix rules to decide which functions an object triggers', () => {
    expect(
      notificationTargets(plan, 'mlpipe-local-raw', 'ObjectCreated:Put', 'incoming/penguins/a.csv'),
    ).toEqual(['mlpipe-local-ingest']);
    expect(
      notificationTargets(plan, 'mlpipe-local-raw', 'ObjectCreated:Put', 'incoming/penguins/a.json'),
    ).toEqual([]);
    expect(notificationTargets(plan, 'mlpipe-local-raw', 'ObjectCreated:Put', 'other/a.csv')).toEqual([]);
    expect(notificationTargets(plan, 'mlpipe-local-raw', 'ObjectRemoved:Delete', 'incoming/a.csv')).toEqual(
      [],
    );
  });

  it('keeps resources other services provision, by type', () => {
    expect(plan.other['AWS::Glue::Table']?.[0]?.properties).toMatchObject({
      TableInput: { Name: 'curated_penguins' },
    });
  });
});
