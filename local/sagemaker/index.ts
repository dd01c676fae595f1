import { type ChildProcess, spawn } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as tar from 'tar';
import { AwsServiceError } from '../protocol/errors';
import { startJsonService } from '../protocol/json';
import { openJsonStore } from '../protocol/store';
import { REPO_ROOT } from '../resources/package';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION, localS3Config, type RunningService } from '../types';

/**
 * SageMaker for what mlpipe uses: training jobs and the model registry.
 *
 * A training job runs the trainer's own entry point as a child process under the SageMaker
 * training contract (`node bin/mlpipe.js train --root <job>/`: channels downloaded from S3 into
 * input/data/<channel>, hyperparameters.json, model/ packed as model.tar.gz into
 * OutputDataConfig, output/failure as FailureReason, checkpoints synced with CheckpointConfig,
 * MetricDefinitions applied to its output lines). Every training image runs the TypeScript gbdt
 * trainer locally: there is no container engine on a laptop without Docker.
 * https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html
 */
type Json = Record<string, unknown>;

interface TrainingJob {
  name: string;
  request: Json;
  status: 'InProgress' | 'Completed' | 'Failed' | 'Stopping' | 'Stopped';
  secondaryStatus: string;
  failureReason?: string;
  created: number;
  started?: number;
  ended?: number;
  modelArtifacts?: string;
  metrics: Record<string, { value: number; at: number }>;
}

interface ModelPackageGroup {
  name: string;
  description?: string;
  created: number;
}

interface ModelPackage {
  arn: string;
  group: string;
  version: number;
  request: Json;
  approval: string;
  approvalDescription?: string;
  created: number;
  modified: number;
  clientToken?: string;
}

export interface SageMakerOptions {
  readonly port: number;
  readonly dataDir: string;
  readonly s3Endpoint: string;
  /** Where a job's output lines go besides its log file. */
  readonly onTrainingLog?: (job: string, line: string) => void;
}

export interface RunningSageMaker extends RunningService {
  /** Resolves when every training job in flight has ended. */
  idle(): Promise<void>;
}

const ARN = `arn:aws:sagemaker:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}`;
const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

const parseS3 = (uri: string): { bucket: string; key: string } => {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m?.[1]) throw new AwsServiceError('ValidationException', `not an s3:// URI: ${uri}`);
  return { bucket: m[1], key: m[2] ?? '' };
};

const filesBelow = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? filesBelow(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : [],
      )
    : [];

export const startSageMaker = async (options: SageMakerOptions): Promise<RunningSageMaker> => {
  const dir = join(options.dataDir, 'sagemaker');
  const store = openJsonStore<{
    jobs: Record<string, TrainingJob>;
    groups: Record<string, ModelPackageGroup>;
    packages: ModelPackage[];
  }>(join(dir, 'state.json'), () => ({ jobs: {}, groups: {}, packages: [] }));
  const { jobs, groups, packages } = store.data;
  for (const job of Object.values(jobs)) {
    if (job.status === 'InProgress' || job.status === 'Stopping') {
      job.status = 'Failed';
      job.secondaryStatus = 'Failed';
      job.failureReason = 'InternalServerError: the local cloud stopped while the job ran';
      job.ended = Date.now();
    }
  }
  store.save();
  const s3 = new S3Client(localS3Config(options.s3Endpoint));
  const processes = new Map<string, ChildProcess>();
  const running = new Set<Promise<void>>();

  const download = async (uri: string, into: string) => {
    const { bucket, key: prefix } = parseS3(uri);
    let token: string | undefined;
    let count = 0;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key || o.Key.endsWith('/')) continue;
        const rel = o.Key.slice(prefix.length).replace(/^\/+/, '') || o.Key.slice(o.Key.lastIndexOf('/') + 1);
        const file = join(into, rel);
        mkdirSync(dirname(file), { recursive: true });
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }));
        await pipeline(got.Body as Readable, createWriteStream(file));
        count += 1;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return count;
  };

  const upload = async (file: string, uri: string) => {
    const { bucket, key } = parseS3(uri);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(file) }));
  };

  const train = async (job: TrainingJob): Promise<void> => {
    const root = join(dir, 'jobs', job.name);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(join(root, 'input', 'config'), { recursive: true });
    const request = job.request;
    const channels = (request.InputDataConfig ?? []) as Json[];
    job.secondaryStatus = 'Downloading';
    for (const channel of channels) {
      const source = ((channel.DataSource as Json | undefined)?.S3DataSource ?? {}) as Json;
      const name = String(channel.ChannelName);
      const count = await download(String(source.S3Uri), join(root, 'input', 'data', name));
      if (count === 0)
        throw new Error(`ClientError: channel ${name}: no objects under ${String(source.S3Uri)}`);
    }
    writeFileSync(
      join(root, 'input', 'config', 'hyperparameters.json'),
      JSON.stringify(request.HyperParameters ?? {}),
    );
    const checkpoint = request.CheckpointConfig as Json | undefined;
    const checkpointDir = join(root, 'checkpoints');
    mkdirSync(checkpointDir, { recursive: true });
    if (checkpoint?.S3Uri) await download(String(checkpoint.S3Uri), checkpointDir);
    const algorithm = (request.AlgorithmSpecification ?? {}) as Json;
    const definitions = ((algorithm.MetricDefinitions ?? []) as { Name: string; Regex: string }[]).map(
      (d) => ({
        name: d.Name,
        regex: new RegExp(d.Regex),
      }),
    );
    const stopping = (request.StoppingCondition ?? {}) as Json;
    const maxRuntime = Number(stopping.MaxRuntimeInSeconds ?? 86400) * 1000;
    job.secondaryStatus = 'Training';
    job.started = Date.now();
    store.save();
    const log = createWriteStream(join(root, 'training.log'));
    const exit = await new Promise<{ code: number | null; timedOut: boolean }>((resolve, reject) => {
      const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'mlpipe.js'), 'train', '--root', root], {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          TRAINING_JOB_NAME: job.name,
          TRAINING_JOB_ARN: `${ARN}:training-job/${job.name}`,
          MLPIPE_TRAINER_IMAGE: String(algorithm.TrainingImage ?? ''),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      processes.set(job.name, child);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
      }, maxRuntime);
      let pending = '';
      const onData = (chunk: Buffer) => {
        log.write(chunk);
        pending += chunk.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          options.onTrainingLog?.(job.name, line);
          for (const d of definitions) {
            const m = d.regex.exec(line);
            const value = m?.[1] === undefined ? Number.NaN : Number(m[1]);
            if (m) job.metrics[d.name] = { value, at: Date.now() };
          }
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        processes.delete(job.name);
        log.end();
        resolve({ code, timedOut });
      });
    });
    if (checkpoint?.S3Uri) {
      for (const file of filesBelow(checkpointDir))
        await upload(
          file,
          `${String(checkpoint.S3Uri).replace(/\/?$/, '/')}${relative(checkpointDir, file)}`,
        );
    }
    if (job.status === 'Stopping') {
      job.status = 'Stopped';
      job.secondaryStatus = 'Stopped';
      return;
    }
    if (exit.timedOut)
      throw new Error(`MaxRuntimeExceeded: Training job runtime exceeded MaxRuntimeInSeconds provided`);
    if (exit.code !== 0) {
      const failure = join(root, 'output', 'failure');
      const reason = existsSync(failure) ? readFileSync(failure, 'utf8').trim() : `exit code ${exit.code}`;
      throw new Error(`AlgorithmError: ${reason}`);
    }
    job.secondaryStatus = 'Uploading';
    const modelDir = join(root, 'model');
    const archive = join(root, 'model.tar.gz');
    await tar.c({ gzip: true, file: archive, cwd: modelDir, portable: true }, readdirSync(modelDir));
    const output = String(((request.OutputDataConfig ?? {}) as Json).S3OutputPath ?? '').replace(/\/?$/, '/');
    const uri = `${output}${job.name}/output/model.tar.gz`;
    await upload(archive, uri);
    job.modelArtifacts = uri;
    job.status = 'Completed';
    job.secondaryStatus = 'Completed';
  };

  const describeJob = (job: TrainingJob) => {
    const r = job.request;
    const end = job.ended ?? Date.now();
    return {
      TrainingJobName: job.name,
      TrainingJobArn: `${ARN}:training-job/${job.name}`,
      TrainingJobStatus: job.status,
      SecondaryStatus: job.secondaryStatus,
      ...(job.failureReason ? { FailureReason: job.failureReason } : {}),
      ModelArtifacts: { S3ModelArtifacts: job.modelArtifacts ?? '' },
      HyperParameters: r.HyperParameters ?? {},
      AlgorithmSpecification: r.AlgorithmSpecification,
      RoleArn: r.RoleArn,
      InputDataConfig: r.InputDataConfig,
      OutputDataConfig: r.OutputDataConfig,
      ResourceConfig: r.ResourceConfig,
      StoppingCondition: r.StoppingCondition,
      EnableManagedSpotTraining: r.EnableManagedSpotTraining ?? false,
      ...(r.CheckpointConfig ? { CheckpointConfig: r.CheckpointConfig } : {}),
      CreationTime: seconds(job.created),
      LastModifiedTime: seconds(job.ended ?? job.started ?? job.created),
      ...(job.started ? { TrainingStartTime: seconds(job.started) } : {}),
      ...(job.ended ? { TrainingEndTime: seconds(job.ended) } : {}),
      TrainingTimeInSeconds: job.started ? Math.round((end - job.started) / 1000) : 0,
      BillableTimeInSeconds: job.started ? Math.round((end - job.started) / 1000) : 0,
      FinalMetricDataList: Object.entries(job.metrics).map(([MetricName, m]) => ({
        MetricName,
        Value: m.value,
        Timestamp: seconds(m.at),
      })),
    };
  };

  const jobOf = (input: Json) => {
    const job = jobs[String(input.TrainingJobName ?? '')];
    if (!job)
      throw new AwsServiceError(
        'ValidationException',
        `Requested resource not found: training job ${String(input.TrainingJobName)}`,
      );
    return job;
  };
  const packageOf = (input: Json) => {
    const name = String(input.ModelPackageName ?? input.ModelPackageArn ?? '');
    const found = packages.find((p) => p.arn === name);
    if (!found) throw new AwsServiceError('ValidationException', `ModelPackage ${name} does not exist.`);
    return found;
  };
  const describePackage = (p: ModelPackage) => ({
    ModelPackageName: `${p.group}/${p.version}`,
    ModelPackageArn: p.arn,
    ModelPackageGroupName: p.group,
    ModelPackageVersion: p.version,
    ModelPackageDescription: p.request.ModelPackageDescription,
    ModelPackageStatus: 'Completed',
    ModelApprovalStatus: p.approval,
    ...(p.approvalDescription ? { ApprovalDescription: p.approvalDescription } : {}),
    InferenceSpecification: p.request.InferenceSpecification,
    ModelMetrics: p.request.ModelMetrics,
    MetadataProperties: p.request.MetadataProperties,
    CustomerMetadataProperties: p.request.CustomerMetadataProperties,
    CreationTime: seconds(p.created),
    LastModifiedTime: seconds(p.modified),
  });

  const service = await startJsonService(
    {
      key: 'SAGEMAKER',
      protocol: 'awsJson1_1',
      operations: {
        CreateTrainingJob: async (input) => {
          const name = String(input.TrainingJobName ?? '');
          if (!/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/.test(name))
            throw new AwsServiceError(
              'ValidationException',
              `TrainingJobName ${name} must match ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`,
            );
          if (jobs[name])
            throw new AwsServiceError(
              'ResourceInUse',
              `Training job names must be unique within an AWS account and region, and a training job with this name already exists (${ARN}:training-job/${name})`,
            );
          const stopping = (input.StoppingCondition ?? {}) as Json;
          if (
            input.EnableManagedSpotTraining === true &&
            Number(stopping.MaxWaitTimeInSeconds ?? 0) < Number(stopping.MaxRuntimeInSeconds ?? 0)
          )
            throw new AwsServiceError(
              'ValidationException',
              'MaxWaitTimeInSeconds must be set and be at least MaxRuntimeInSeconds for managed spot training',
            );
          const job: TrainingJob = {
            name,
            request: input,
            status: 'InProgress',
            secondaryStatus: 'Starting',
            created: Date.now(),
            metrics: {},
          };
          jobs[name] = job;
          store.save();
          const task = train(job)
            .catch((error: Error) => {
              job.status = 'Failed';
              job.secondaryStatus = 'Failed';
              job.failureReason = error.message;
            })
            .finally(() => {
              job.ended = Date.now();
              store.save();
              running.delete(task);
            });
          running.add(task);
          return { TrainingJobArn: `${ARN}:training-job/${name}` };
        },
        DescribeTrainingJob: async (input) => describeJob(jobOf(input)),
        StopTrainingJob: async (input) => {
          const job = jobOf(input);
          if (job.status === 'InProgress') {
            job.status = 'Stopping';
            job.secondaryStatus = 'Stopping';
            processes.get(job.name)?.kill('SIGTERM');
            store.save();
          }
          return {};
        },
        ListTrainingJobs: async (input) => ({
          TrainingJobSummaries: Object.values(jobs)
            .filter((j) => !input.NameContains || j.name.includes(String(input.NameContains)))
            .filter((j) => !input.StatusEquals || j.status === input.StatusEquals)
            .sort((a, b) => b.created - a.created)
            .map((j) => ({
              TrainingJobName: j.name,
              TrainingJobArn: `${ARN}:training-job/${j.name}`,
              TrainingJobStatus: j.status,
              CreationTime: seconds(j.created),
            })),
        }),
        CreateModelPackageGroup: async (input) => {
          const name = String(input.ModelPackageGroupName ?? '');
          if (groups[name])
            throw new AwsServiceError(
              'ValidationException',
              `Model Package Group already exists: ${ARN}:model-package-group/${name}`,
            );
          groups[name] = {
            name,
            ...(input.ModelPackageGroupDescription
              ? { description: String(input.ModelPackageGroupDescription) }
              : {}),
            created: Date.now(),
          };
          store.save();
          return { ModelPackageGroupArn: `${ARN}:model-package-group/${name}` };
        },
        DescribeModelPackageGroup: async (input) => {
          const group = groups[String(input.ModelPackageGroupName ?? '')];
          if (!group)
            throw new AwsServiceError(
              'ValidationException',
              `ModelPackageGroup ${String(input.ModelPackageGroupName)} does not exist.`,
            );
          return {
            ModelPackageGroupName: group.name,
            ModelPackageGroupArn: `${ARN}:model-package-group/${group.name}`,
            ModelPackageGroupDescription: group.description,
            ModelPackageGroupStatus: 'Completed',
            CreationTime: seconds(group.created),
          };
        },
        ListModelPackageGroups: async () => ({
          ModelPackageGroupSummaryList: Object.values(groups).map((g) => ({
            ModelPackageGroupName: g.name,
            ModelPackageGroupArn: `${ARN}:model-package-group/${g.name}`,
            ModelPackageGroupStatus: 'Completed',
            CreationTime: seconds(g.created),
          })),
        }),
        CreateModelPackage: async (input) => {
          const group = String(input.ModelPackageGroupName ?? '');
          if (!groups[group])
            throw new AwsServiceError('ValidationException', `Model Package Group does not exist: ${group}`);
          const token = input.ClientToken ? String(input.ClientToken) : undefined;
          // A repeated ClientToken answers the package it created, as AWS does for idempotent retries.
          const existing = token ? packages.find((p) => p.clientToken === token) : undefined;
          if (existing) return { ModelPackageArn: existing.arn };
          const version = packages.filter((p) => p.group === group).length + 1;
          const now = Date.now();
          const created: ModelPackage = {
            arn: `${ARN}:model-package/${group}/${version}`,
            group,
            version,
            request: input,
            approval: String(input.ModelApprovalStatus ?? 'PendingManualApproval'),
            created: now,
            modified: now,
            ...(token ? { clientToken: token } : {}),
          };
          packages.push(created);
          store.save();
          return { ModelPackageArn: created.arn };
        },
        DescribeModelPackage: async (input) => describePackage(packageOf(input)),
        UpdateModelPackage: async (input) => {
          const p = packageOf({ ModelPackageArn: input.ModelPackageArn });
          if (input.ModelApprovalStatus) p.approval = String(input.ModelApprovalStatus);
          if (input.ApprovalDescription) p.approvalDescription = String(input.ApprovalDescription);
          if (input.CustomerMetadataProperties) {
            p.request.CustomerMetadataProperties = {
              ...((p.request.CustomerMetadataProperties ?? {}) as Json),
              ...(input.CustomerMetadataProperties as Json),
            };
          }
          p.modified = Date.now();
          store.save();
          return { ModelPackageArn: p.arn };
        },
        ListModelPackages: async (input) => {
          const list = packages
            .filter((p) => !input.ModelPackageGroupName || p.group === input.ModelPackageGroupName)
            .filter((p) => !input.ModelApprovalStatus || p.approval === input.ModelApprovalStatus)
            .sort((a, b) =>
              input.SortOrder === 'Ascending' ? a.created - b.created : b.created - a.created,
            );
          return {
            ModelPackageSummaryList: list.map((p) => ({
              ModelPackageArn: p.arn,
              ModelPackageGroupName: p.group,
              ModelPackageVersion: p.version,
              ModelPackageDescription: p.request.ModelPackageDescription,
              ModelPackageStatus: 'Completed',
              ModelApprovalStatus: p.approval,
              CreationTime: seconds(p.created),
            })),
          };
        },
      },
    },
    options.port,
    async () => {
      for (const child of processes.values()) child.kill('SIGTERM');
      await Promise.allSettled([...running]);
      s3.destroy();
    },
  );
  return { ...service, idle: async () => void (await Promise.allSettled([...running])) };
};
