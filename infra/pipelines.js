// Per-pipeline resources generated from pipelines/*.yml, so a new use case needs only a spec file:
// a Glue table over its curated data (partition projection: no crawler run per ingest) and a
// SageMaker model package group. Resolved by serverless.yml through `${file(./infra/pipelines.js):resources}`.
require('tsx/cjs');
const { join } = require('node:path');
const { loadSpecs } = require('../core/spec/load.ts');
const { curatedColumnName, glueColumnType } = require('../core/spec/catalog.ts');
const { CANARY_METRICS, canaryAlarmNames, canaryDimensions } = require('../core/deployment/canary.ts');

const logicalName = (pipeline) => pipeline.replace(/(^|-)([a-z0-9])/g, (_, __, c) => c.toUpperCase());

module.exports.resources = async ({ resolveVariable }) => {
  const names = await resolveVariable('self:custom.names');
  const stage = await resolveVariable('sls:stage');
  const service = await resolveVariable('self:service');
  const errorRate = Number(await resolveVariable('param:alarmErrorRate'));
  const latencyP99Ms = Number(await resolveVariable('param:alarmLatencyP99Ms'));
  const specs = loadSpecs(join(__dirname, '..', 'pipelines'));
  const resources = {};
  for (const spec of specs.values()) {
    const id = logicalName(spec.name);
    const table = `curated_${spec.name.replace(/-/g, '_')}`;
    const location = `s3://${names.curatedBucket}/curated/${spec.name}/`;
    resources[`CuratedTable${id}`] = {
      Type: 'AWS::Glue::Table',
      DependsOn: ['GlueDatabase'],
      Properties: {
        CatalogId: { Ref: 'AWS::AccountId' },
        DatabaseName: names.glueDatabase,
        TableInput: {
          Name: table,
          Description: spec.description ?? `curated data of ${spec.name}`,
          TableType: 'EXTERNAL_TABLE',
          PartitionKeys: [
            { Name: 'ingest', Type: 'string' },
            { Name: 'split', Type: 'string' },
          ],
          Parameters: {
            classification: 'parquet',
            'projection.enabled': 'true',
            // Ingest ids are content hashes: injected, so each query names the ingest it reads.
            'projection.ingest.type': 'injected',
            'projection.split.type': 'enum',
            'projection.split.values': 'train,validation,test',
            'storage.location.template': `${location}ingest=\${ingest}/split=\${split}/`,
          },
          StorageDescriptor: {
            Location: location,
            Columns: Object.entries(spec.columns).map(([name, column]) => ({
              Name: curatedColumnName(name),
              Type: glueColumnType(column.type),
            })),
            InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
            OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
            SerdeInfo: {
              SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
            },
          },
        },
      },
    };
    resources[`ModelPackageGroup${id}`] = {
      Type: 'AWS::SageMaker::ModelPackageGroup',
      Properties: {
        ModelPackageGroupName: `${service}-${stage}-${spec.name}`,
        ModelPackageGroupDescription: `${spec.name} models (${spec.target.task}) trained by mlpipe, stage ${stage}`,
      },
    };
    // The challenger's own alarms: the judge step promotes or rolls back on them after the canary
    // window. Missing data is not breaching, so a canary without traffic is not rolled back.
    const alarms = canaryAlarmNames(`${service}-${stage}`, spec.name);
    const challengerAlarm = (name, metric, statistic, threshold, description) => ({
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: name,
        AlarmDescription: description,
        Namespace: CANARY_METRICS.namespace,
        MetricName: metric,
        Dimensions: canaryDimensions(spec.name, 'challenger').map((d) => ({ ...d })),
        ...statistic,
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: threshold,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      },
    });
    resources[`ChallengerErrorsAlarm${id}`] = challengerAlarm(
      alarms.errors,
      CANARY_METRICS.errorRate,
      { Statistic: 'Average' },
      errorRate,
      `${spec.name}: the challenger fails more than ${errorRate * 100}% of the records it scores`,
    );
    resources[`ChallengerLatencyAlarm${id}`] = challengerAlarm(
      alarms.latency,
      CANARY_METRICS.latency,
      { ExtendedStatistic: 'p99' },
      latencyP99Ms,
      `${spec.name}: the challenger's p99 batch latency is above ${latencyP99Ms} ms`,
    );
  }
  return resources;
};
