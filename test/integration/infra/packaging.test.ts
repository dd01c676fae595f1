import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSpecs, pipelineNames } from '../../../core/spec/load';
import { type CfnTemplate, packageStage, REPO_ROOT } from '../../support/package-stage';
import { zipEntry } from '../../support/zip';

type Statement = {
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};

const STAGES = ['local', 'dev', 'staging', 'prod'] as const;
const templates = new Map<string, CfnTemplate>();

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every IAM statement of a template, wherever it lives (roles, policies, bucket/queue policies). */
const statements = (t: CfnTemplate): { where: string; statement: Statement }[] => {
  const found: { where: string; statement: Statement }[] = [];
  for (const [id, r] of Object.entries(t.Resources)) {
    const p = r.Properties ?? {};
    const docs: unknown[] = [];
    if (r.Type === 'AWS::IAM::Role')
      for (const pol of asArray(p.Policies as { PolicyDocument: unknown }[])) docs.push(pol.PolicyDocument);
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') docs.push(p.PolicyDocument);
    for (const doc of docs)
      for (const s of asArray((doc as { Statement: Statement[] }).Statement))
        found.push({ where: id, statement: s });
  }
  return found;
};

/** `*Name` properties that refer to something else rather than name the resource itself. */
const NOT_PHYSICAL = new Set(['DatabaseName', 'MetricName']);

/** Physical names: every `*Name` property, and Glue tables qualified by their database. */
const physicalNames = (t: CfnTemplate): string[] => {
  const names: string[] = [];
  for (const r of Object.values(t.Resources)) {
    const p = r.Properties ?? {};
    for (const [k, v] of Object.entries(p))
      if (k.endsWith('Name') && typeof v === 'string' && !NOT_PHYSICAL.has(k)) names.push(`${r.Type}:${v}`);
    const dbInput = p.DatabaseInput as { Name?: string } | undefined;
    if (dbInput?.Name) names.push(`${r.Type}:${dbInput.Name}`);
    const tableInput = p.TableInput as { Name?: string } | undefined;
    if (tableInput?.Name) names.push(`${r.Type}:${String(p.DatabaseName)}.${tableInput.Name}`);
    if (r.Type === 'AWS::Athena::WorkGroup' || r.Type === 'AWS::Kinesis::Stream')
      names.push(`${r.Type}:${String(p.Name)}`);
  }
  return names;
};

// Actions that have no resource-level permissions, so `*` is the only resource AWS accepts:
// https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
const NO_RESOURCE_LEVEL = new Set([
  'ecr:GetAuthorizationToken',
  'cloudwatch:PutMetricData',
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
]);

const byType = (t: CfnTemplate, type: string) =>
  Object.entries(t.Resources).filter(([, r]) => r.Type === type);

describe('serverless package for every stage, offline and without AWS credentials', () => {
  // The dev stage's packages are kept, to look inside them.
  const devPackage = mkdtempSync(join(tmpdir(), 'mlpipe-package-dev-'));
  beforeAll(async () => {
    for (const stage of STAGES)
      templates.set(stage, await packageStage(stage, stage === 'dev' ? devPackage : undefined));
  }, 240_000);
  afterAll(() => rmSync(devPackage, { recursive: true, force: true }));

  it('packages the ingest function with every pipeline spec, and those specs compiled', () => {
    const zip = join(devPackage, 'ingest.zip');
    for (const name of pipelineNames(join(REPO_ROOT, 'pipelines')))
      expect({ name, spec: zipEntry(zip, `pipelines/${name}.yml`) !== undefined }).toEqual({
        name,
        spec: true,
      });
    const compiled = zipEntry(zip, 'pipelines/.compiled.json');
    expect(JSON.parse(String(compiled))).toEqual(
      JSON.parse(JSON.stringify(compileSpecs(join(REPO_ROOT, 'pipelines')))),
    );
  });

  const tpl = (stage: string): CfnTemplate => {
    const t = templates.get(stage);
    if (!t) throw new Error(`no template for ${stage}`);
    return t;
  };

  it('produces a CloudFormation template for local, dev, staging and prod', () => {
    for (const stage of STAGES) expect(Object.keys(tpl(stage).Resources).length).toBeGreaterThan(10);
  });

  it('gives every physical name a different value in every stage', () => {
    for (const a of STAGES) {
      for (const b of STAGES) {
        if (a >= b) continue;
        const shared = physicalNames(tpl(a)).filter((n) => physicalNames(tpl(b)).includes(n));
        expect({ stages: `${a}/${b}`, shared }).toEqual({ stages: `${a}/${b}`, shared: [] });
      }
    }
    expect(physicalNames(tpl('dev'))).toEqual(
      expect.arrayContaining(['AWS::S3::Bucket:mlpipe-dev-raw', 'AWS::Kinesis::Stream:mlpipe-dev-events']),
    );
  });

  it.each(STAGES)(
    'grants no wildcard action and no wildcard resource where a scoped ARN exists (%s)',
    (stage) => {
      const all = statements(tpl(stage)).filter(({ statement }) => statement.Effect === 'Allow');
      expect(all.length).toBeGreaterThan(5);
      for (const { where, statement } of all) {
        for (const action of asArray(statement.Action))
          expect({ where, action }).toEqual({ where, action: expect.not.stringMatching(/\*/) });
        if (asArray(statement.Resource).includes('*')) {
          for (const action of asArray(statement.Action))
            expect({ where, action, wildcardResourceAllowed: NO_RESOURCE_LEVEL.has(action) }).toMatchObject({
              wildcardResourceAllowed: true,
            });
        }
      }
    },
  );

  it.each(STAGES)(
    'blocks public access, encrypts and denies non-TLS requests on every bucket (%s)',
    (stage) => {
      const t = tpl(stage);
      const buckets = byType(t, 'AWS::S3::Bucket');
      expect(buckets.length).toBeGreaterThanOrEqual(3);
      const policies = byType(t, 'AWS::S3::BucketPolicy').map(([, r]) => r.Properties ?? {});
      for (const [id, bucket] of buckets) {
        const p = bucket.Properties ?? {};
        expect({ id, block: p.PublicAccessBlockConfiguration }).toEqual({
          id,
          block: {
            BlockPublicAcls: true,
            BlockPublicPolicy: true,
            IgnorePublicAcls: true,
            RestrictPublicBuckets: true,
          },
        });
        expect({ id, encrypted: p.BucketEncryption !== undefined }).toEqual({ id, encrypted: true });
        const policy = policies.find((pp) => JSON.stringify(pp.Bucket) === JSON.stringify({ Ref: id }));
        const denies = asArray(
          (policy?.PolicyDocument as { Statement: Statement[] } | undefined)?.Statement,
        ).filter(
          (s) => s.Effect === 'Deny' && String(s.Condition?.Bool?.['aws:SecureTransport']) === 'false',
        );
        expect({ id, tlsOnly: denies.length }).toEqual({ id, tlsOnly: 1 });
      }
    },
  );

  it.each(STAGES)(
    'versions the data buckets and expires raw and quarantined data by lifecycle rules (%s)',
    (stage) => {
      const t = tpl(stage);
      for (const id of ['RawBucket', 'CuratedBucket', 'ArtifactsBucket']) {
        expect(t.Resources[id]?.Properties?.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      }
      const prefixes = (id: string) =>
        (
          (t.Resources[id]?.Properties?.LifecycleConfiguration ?? { Rules: [] }) as {
            Rules: { Prefix?: string; ExpirationInDays?: number }[];
          }
        ).Rules.filter((r) => r.ExpirationInDays).map((r) => r.Prefix);
      expect(prefixes('RawBucket')).toEqual(expect.arrayContaining(['incoming/', 'quarantine/']));
      expect(prefixes('CuratedBucket')).toEqual(expect.arrayContaining(['quarantine/']));
    },
  );

  it.each(STAGES)('sets a retention on every log group (%s)', (stage) => {
    for (const [id, group] of byType(tpl(stage), 'AWS::Logs::LogGroup')) {
      expect({ id, retention: typeof group.Properties?.RetentionInDays }).toEqual({
        id,
        retention: 'number',
      });
    }
  });

  it('keeps prod data when the stack is deleted and lets dev data go', () => {
    expect(tpl('prod').Resources.RawBucket?.DeletionPolicy).toBe('Retain');
    expect(tpl('dev').Resources.RawBucket?.DeletionPolicy).toBe('Delete');
    expect(tpl('prod').Resources.AthenaWorkGroup?.Properties).toMatchObject({
      WorkGroupConfiguration: {
        BytesScannedCutoffPerQuery: 107374182400,
        EnforceWorkGroupConfiguration: true,
      },
    });
  });

  it.each(STAGES)('gives the training state machine exactly what SageMaker .sync needs (%s)', (stage) => {
    const role = statements(tpl(stage))
      .filter((s) => s.where === 'TrainingStateMachineRole')
      .map((s) => s.statement);
    const find = (action: string) => role.filter((s) => asArray(s.Action).includes(action));

    const eventsRule = find('events:PutRule');
    expect(eventsRule).toHaveLength(1);
    expect(asArray(eventsRule[0]?.Action).sort()).toEqual([
      'events:DescribeRule',
      'events:PutRule',
      'events:PutTargets',
    ]);
    expect(JSON.stringify(eventsRule[0]?.Resource)).toContain(
      ':rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule',
    );

    const passRole = find('iam:PassRole');
    expect(passRole).toHaveLength(1);
    expect(passRole[0]?.Resource).toEqual({ 'Fn::GetAtt': ['SageMakerExecutionRole', 'Arn'] });
    expect(passRole[0]?.Condition).toEqual({
      StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' },
    });

    const jobs = find('sagemaker:CreateTrainingJob');
    expect(asArray(jobs[0]?.Action)).toEqual(
      expect.arrayContaining(['sagemaker:DescribeTrainingJob', 'sagemaker:StopTrainingJob']),
    );
    expect(JSON.stringify(jobs[0]?.Resource)).toContain(`:training-job/mlpipe-${stage}-*`);
  });

  it('declares a Glue table with partition projection and a model package group for every pipeline spec', () => {
    const t = tpl('dev');
    for (const pipeline of ['penguins', 'cars', 'flights']) {
      const table = Object.values(t.Resources).find(
        (r) =>
          r.Type === 'AWS::Glue::Table' &&
          (r.Properties?.TableInput as { Name?: string } | undefined)?.Name === `curated_${pipeline}`,
      );
      expect(table?.Properties).toMatchObject({
        DatabaseName: 'mlpipe_dev',
        TableInput: {
          Parameters: { 'projection.enabled': 'true', 'projection.split.values': 'train,validation,test' },
        },
      });
      expect(physicalNames(t)).toContain(`AWS::SageMaker::ModelPackageGroup:mlpipe-dev-${pipeline}`);
    }
  });

  it.each(['dev', 'prod'])(
    'declares the challenger alarms of every pipeline with the %s thresholds, silent without traffic',
    (stage) => {
      const t = tpl(stage);
      const expected = stage === 'prod' ? { errors: 0.01, latency: 250 } : { errors: 0.05, latency: 500 };
      for (const pipeline of ['penguins', 'cars', 'flights']) {
        const alarm = (name: string) =>
          Object.values(t.Resources).find(
            (r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties?.AlarmName === name,
          )?.Properties;
        expect(alarm(`mlpipe-${stage}-${pipeline}-challenger-errors`)).toMatchObject({
          MetricName: 'InferenceErrorRate',
          Dimensions: [
            { Name: 'pipeline', Value: pipeline },
            { Name: 'variant', Value: 'challenger' },
          ],
          Threshold: expected.errors,
          TreatMissingData: 'notBreaching',
        });
        expect(alarm(`mlpipe-${stage}-${pipeline}-challenger-latency`)).toMatchObject({
          ExtendedStatistic: 'p99',
          Threshold: expected.latency,
        });
      }
    },
  );

  it('ships DuckDB and onnxruntime as linux-x64 layers to the x86_64 functions that load them', () => {
    const t = tpl('prod');
    const layer = (id: string) => t.Resources[id]?.Properties;
    expect(layer('DuckdbLambdaLayer')).toMatchObject({
      LayerName: 'mlpipe-prod-duckdb',
      CompatibleArchitectures: ['x86_64'],
    });
    expect(layer('OnnxruntimeLambdaLayer')).toMatchObject({ LayerName: 'mlpipe-prod-onnxruntime' });
    const fn = (id: string) =>
      t.Resources[id]?.Properties as { Layers?: unknown[]; Architectures?: string[] };
    expect(fn('IngestLambdaFunction')).toMatchObject({
      Layers: [{ Ref: 'DuckdbLambdaLayer' }],
      Architectures: ['x86_64'],
    });
    expect(fn('EvaluateLambdaFunction')?.Layers).toEqual([
      { Ref: 'DuckdbLambdaLayer' },
      { Ref: 'OnnxruntimeLambdaLayer' },
    ]);
    // Only the Lambda platform's binaries: the other platforms' would take the layer past its limit.
    const binaries = join(
      REPO_ROOT,
      '.build/layers/onnxruntime/nodejs/node_modules/onnxruntime-node/bin/napi-v6',
    );
    expect(readdirSync(binaries)).toEqual(['linux']);
    expect(readdirSync(join(binaries, 'linux'))).toEqual(['x64']);
  });

  it('runs the three inference entry points from one image, with an IAM-authenticated URL and the stream mapping', () => {
    const t = tpl('prod');
    const fn = (id: string) =>
      t.Resources[id]?.Properties as {
        PackageType?: string;
        Code?: { ImageUri?: string };
        ImageConfig?: { Command?: string[] };
        TracingConfig?: { Mode?: string };
      };
    const images = [
      'InferDashstreamLambdaFunction',
      'InferDashhttpLambdaFunction',
      'InferDashbatchLambdaFunction',
    ].map(fn);
    expect(new Set(images.map((f) => f?.Code?.ImageUri)).size).toBe(1);
    expect(images.map((f) => f?.ImageConfig?.Command?.[0])).toEqual([
      'functions/infer/stream-handler.handler',
      'functions/infer/http-handler.handler',
      'functions/infer/batch-handler.handler',
    ]);
    expect(images.map((f) => f?.TracingConfig?.Mode)).toEqual(['Active', 'Active', 'Active']);
    expect(byType(t, 'AWS::Lambda::Url').map(([, r]) => r.Properties?.AuthType)).toEqual(['AWS_IAM']);
    const [[, mapping] = []] = byType(t, 'AWS::Lambda::EventSourceMapping');
    expect(mapping?.Properties).toMatchObject({
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['InferFailuresQueue', 'Arn'] } } },
    });
    const raw = Object.values(t.Resources).find(
      (r) => r.Type === 'AWS::S3::Bucket' && r.Properties?.BucketName === 'mlpipe-prod-raw',
    );
    const notifications = raw?.Properties?.NotificationConfiguration as
      | { LambdaConfigurations: { Filter: { S3Key: { Rules: { Value: string }[] } } }[] }
      | undefined;
    const prefixes = notifications?.LambdaConfigurations.map((c) => c.Filter.S3Key.Rules[0]?.Value);
    expect(prefixes).toEqual(['incoming/', 'batch-input/']);
  });
});
