import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StartQueryExecutionInput$ } from '@aws-sdk/client-athena';
import { InvocationRequest$ } from '@aws-sdk/client-lambda';
import { CreateTrainingJobRequest$ } from '@aws-sdk/client-sagemaker';
import aslValidator from 'asl-validator';
import YAML from 'yaml';
import { trainingJobParts } from '../../../core/pipeline';
import { loadSpecs } from '../../../core/spec';

/**
 * The training state machine against the AWS API shapes its Tasks call. The shapes are the AWS
 * SDK's own schemas (smithy: [3, namespace, name, traits, members, member schemas, required count],
 * the required members first; lists [1, namespace, name, traits, member schema]), so the check
 * follows the SDK version the project installs.
 */
type Schema = readonly unknown[];
const definition = YAML.parse(
  readFileSync(join(__dirname, '../../../statemachines/training.asl.yaml'), 'utf8'),
) as Record<string, unknown>;

const resolve = (s: unknown): Schema | undefined => {
  const value = typeof s === 'function' ? (s as () => unknown)() : s;
  return Array.isArray(value) ? value : undefined;
};

/** Problems of `value` against a structure schema: unknown members, missing required ones, recursively. */
const shapeProblems = (value: unknown, schema: Schema | undefined, path: string): string[] => {
  if (!schema || typeof value !== 'object' || value === null) return [];
  if (schema[0] === 1) {
    const member = resolve(schema[4]);
    return Array.isArray(value) ? value.flatMap((v, i) => shapeProblems(v, member, `${path}[${i}]`)) : [];
  }
  if (schema[0] !== 3 || Array.isArray(value)) return [];
  const [, , name, , members, memberSchemas, required = 0] = schema as [
    number,
    string,
    string,
    number,
    string[],
    unknown[],
    number?,
  ];
  const given = Object.keys(value).map((k) => k.replace(/\.\$$/, ''));
  const problems = given
    .filter((k) => !members.includes(k))
    .map((k) => `${path}.${k}: not a member of ${name}`);
  for (const m of members.slice(0, required))
    if (!given.includes(m)) problems.push(`${path}: ${name} requires ${m}`);
  for (const [k, v] of Object.entries(value)) {
    if (k.endsWith('.$')) continue;
    const index = members.indexOf(k);
    if (index >= 0) problems.push(...shapeProblems(v, resolve(memberSchemas[index]), `${path}.${k}`));
  }
  return problems;
};

/** Every Task state, however deeply nested (Map item processors, Parallel branches). */
const tasks = (states: Record<string, Record<string, unknown>>): [string, Record<string, unknown>][] =>
  Object.entries(states).flatMap(([name, state]) => [
    ...(state.Type === 'Task' ? [[name, state] as [string, Record<string, unknown>]] : []),
    ...(state.ItemProcessor
      ? tasks((state.ItemProcessor as { States: Record<string, Record<string, unknown>> }).States)
      : []),
  ]);

const SHAPES: Record<string, Schema> = {
  'arn:aws:states:::sagemaker:createTrainingJob.sync': CreateTrainingJobRequest$ as unknown as Schema,
  'arn:aws:states:::athena:startQueryExecution.sync': StartQueryExecutionInput$ as unknown as Schema,
  'arn:aws:states:::lambda:invoke': InvocationRequest$ as unknown as Schema,
  'arn:aws:states:::lambda:invoke.waitForTaskToken': InvocationRequest$ as unknown as Schema,
};

describe('the training state machine definition', () => {
  const all = tasks(definition.States as Record<string, Record<string, unknown>>);

  it('is valid Amazon States Language', () => {
    const { isValid, errorsText } = aslValidator(definition);
    expect(errorsText('\n')).toBe('');
    expect(isValid).toBe(true);
  });

  it('would catch a misspelt or missing member (the check itself)', () => {
    expect(
      shapeProblems(
        { TrainingJobNme: 'x', RoleArn: 'r' },
        SHAPES['arn:aws:states:::sagemaker:createTrainingJob.sync'],
        'p',
      ),
    ).toEqual(
      expect.arrayContaining([
        'p.TrainingJobNme: not a member of CreateTrainingJobRequest',
        'p: CreateTrainingJobRequest requires TrainingJobName',
        'p: CreateTrainingJobRequest requires OutputDataConfig',
      ]),
    );
  });

  it('calls only service integrations whose request shape it checks', () => {
    expect(all.length).toBeGreaterThan(10);
    for (const [name, task] of all)
      expect({ name, known: String(task.Resource) in SHAPES }).toEqual({ name, known: true });
  });

  it('gives every Task parameters the AWS API accepts: required members present, no unknown members', () => {
    const problems = all.flatMap(([name, task]) =>
      shapeProblems(task.Parameters, SHAPES[String(task.Resource)], `${name}.Parameters`),
    );
    expect(problems).toEqual([]);
  });

  it.each([...loadSpecs(join(__dirname, '../../../pipelines')).values()].map((s) => [s.name, s] as const))(
    'fills the training job of %s, from its planned parts, in the CreateTrainingJob shape',
    (_name, spec) => {
      const parts = trainingJobParts({
        spec,
        config: {
          trainerImages: { gbdt: '123.dkr.ecr.us-east-1.amazonaws.com/mlpipe-gbdt:1' },
          instanceType: 'ml.m5.xlarge',
          spot: true,
          artifactsBucket: 'art',
        },
        channels: { train: 's3://art/t/', validation: 's3://art/v/', config: 's3://art/c/' },
        ingestId: 'i1',
        ...(spec.target.task === 'multiclass' ? { classCount: 3 } : {}),
      });
      const request = {
        TrainingJobName: 'mlpipe-local-x',
        RoleArn: 'arn:aws:iam::000000000000:role/r',
        AlgorithmSpecification: parts.algorithmSpecification,
        HyperParameters: parts.hyperParameters,
        InputDataConfig: parts.inputDataConfig,
        OutputDataConfig: parts.outputDataConfig,
        ResourceConfig: parts.resourceConfig,
        StoppingCondition: parts.stoppingCondition,
        EnableManagedSpotTraining: parts.enableManagedSpotTraining,
        ...(parts.checkpointConfig ? { CheckpointConfig: parts.checkpointConfig } : {}),
      };
      expect(
        shapeProblems(request, CreateTrainingJobRequest$ as unknown as Schema, 'CreateTrainingJob'),
      ).toEqual([]);
      // Spot needs a wait at least as long as the run: https://docs.aws.amazon.com/sagemaker/latest/dg/model-managed-spot-training.html
      const stop = parts.stoppingCondition as { MaxRuntimeInSeconds: number; MaxWaitTimeInSeconds?: number };
      expect(stop.MaxWaitTimeInSeconds ?? 0).toBeGreaterThanOrEqual(stop.MaxRuntimeInSeconds);
    },
  );
});
