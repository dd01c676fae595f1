import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  chooseVariant,
  type DeploymentRecord,
  deploymentRecordKey,
  parseDeploymentRecord,
  type S3Location,
  type Variant,
} from '../../core/deployment';
import { loadServingModel, ModelIntegrityError, readBundle, type ServingModel } from '../../core/model';
import { downloadTo, getText } from '../shared/s3';

/**
 * Which model serves a pipeline, and the loaded models. The deployment record is re-read at most
 * every `recordTtlMs`, so a promotion or a rollback (one write of the record) is served within
 * seconds and never needs a redeploy. Bundles are fetched from S3 once per instance, kept in /tmp
 * (SHA-256 checked whenever read) and in memory, least recently used first out when the memory
 * budget is spent; each model version has one onnxruntime session per instance.
 */
export interface ModelsSettings {
  readonly artifactsBucket: string;
  readonly scratchDir: string;
  readonly recordTtlMs: number;
  readonly memoryBudgetBytes: number;
  /** onnxruntime's intra-op threads per session (config.ts, `scorerThreads`); 0: its default. */
  readonly scorerThreads: number;
}

export class InferenceModelError extends Error {
  override name = 'InferenceModelError';
}

/** The deployment record could not be read: the records wait for a retry. */
export class DeploymentUnavailableError extends InferenceModelError {
  override name = 'DeploymentUnavailableError';
}

/** A bundle could not be fetched or failed its checksum: the records wait for a retry. */
export class ModelUnavailableError extends InferenceModelError {
  override name = 'ModelUnavailableError';
}

export interface RoutedModel {
  readonly variant: Variant;
  readonly version: string;
  readonly location: S3Location;
}

/** Where each id of a pipeline goes under one reading of its deployment record. */
export interface Router {
  readonly record: DeploymentRecord;
  route(id: string): RoutedModel | undefined;
}

interface Loaded {
  readonly model: ServingModel;
  readonly bytes: number;
}

/** What a loaded model is charged against the budget: a session holds the graph and its buffers, taken as three times the ONNX file (an estimate, not a measurement). */
const SESSION_OVERHEAD = 3;

/** Where an instance keeps a fetched bundle in its /tmp (checked again whenever it is read). */
export const bundleCachePath = (scratchDir: string, location: S3Location): string =>
  join(
    scratchDir,
    'mlpipe-models',
    `${createHash('sha256').update(`${location.bucket}/${location.key}`).digest('hex').slice(0, 32)}.tar.gz`,
  );

export class ServingModels {
  private readonly records = new Map<string, { at: number; record: DeploymentRecord | null }>();
  private readonly loading = new Map<string, Promise<Loaded>>();
  /** Insertion order is recency: a hit is deleted and re-set. */
  private readonly loaded = new Map<string, Loaded>();
  private usedBytes = 0;

  constructor(
    private readonly s3: S3Client,
    private readonly settings: ModelsSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** The pipeline's deployment record (null: nothing deployed yet), at most `recordTtlMs` old. */
  async deployment(pipeline: string): Promise<DeploymentRecord | null> {
    const cached = this.records.get(pipeline);
    if (cached && this.now() - cached.at < this.settings.recordTtlMs) return cached.record;
    const key = deploymentRecordKey(pipeline);
    let text: string | undefined;
    try {
      text = await getText(this.s3, { bucket: this.settings.artifactsBucket, key });
    } catch (error) {
      throw new DeploymentUnavailableError(
        `${pipeline}: cannot read s3://${this.settings.artifactsBucket}/${key}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const record =
      text === undefined ? null : parseDeploymentRecord(text, `s3://${this.settings.artifactsBucket}/${key}`);
    this.records.set(pipeline, { at: this.now(), record });
    return record;
  }

  async router(pipeline: string): Promise<Router | null> {
    const record = await this.deployment(pipeline);
    if (!record?.champion && !record?.challenger) return null;
    // One object per variant, not one per record: callers group records by the object itself.
    const routed = (variant: Variant): RoutedModel | undefined => {
      const serving = variant === 'challenger' ? record.challenger : record.champion;
      return serving ? { variant, version: serving.version, location: serving.model } : undefined;
    };
    const champion = routed('champion');
    const challenger = routed('challenger');
    return {
      record,
      route: (id) => (chooseVariant(record, id) === 'challenger' ? challenger : champion),
    };
  }

  /** The loaded model of a version, fetched and checked on first use. */
  async model(version: string, location: S3Location): Promise<ServingModel> {
    const hit = this.loaded.get(version);
    if (hit) {
      this.loaded.delete(version);
      this.loaded.set(version, hit);
      return hit.model;
    }
    let pending = this.loading.get(version);
    if (!pending) {
      pending = this.load(version, location).finally(() => this.loading.delete(version));
      this.loading.set(version, pending);
    }
    return (await pending).model;
  }

  /** Versions in memory, least recently used first (for tests and logs). */
  get resident(): string[] {
    return [...this.loaded.keys()];
  }

  async release(): Promise<void> {
    for (const { model } of this.loaded.values()) await model.release();
    this.loaded.clear();
    this.usedBytes = 0;
  }

  private async load(version: string, location: S3Location): Promise<Loaded> {
    const file = bundleCachePath(this.settings.scratchDir, location);
    mkdirSync(dirname(file), { recursive: true });
    const where = `model ${version} (s3://${location.bucket}/${location.key})`;
    let bundle: Awaited<ReturnType<typeof readBundle>>;
    try {
      if (!existsSync(file)) await this.fetch(location, file);
      try {
        bundle = await readBundle(file);
      } catch (error) {
        // A /tmp copy that fails its checksum is refetched once; a bundle that fails twice is refused.
        if (!(error instanceof ModelIntegrityError)) throw error;
        rmSync(file, { force: true });
        await this.fetch(location, file);
        bundle = await readBundle(file);
      }
    } catch (error) {
      rmSync(file, { force: true });
      throw new ModelUnavailableError(`${where}: ${(error as Error).message}`, { cause: error });
    }
    const model = await loadServingModel(bundle, { threads: this.settings.scorerThreads });
    const loaded = { model, bytes: bundle.onnx.byteLength * SESSION_OVERHEAD };
    this.loaded.set(version, loaded);
    this.usedBytes += loaded.bytes;
    await this.evict(version);
    return loaded;
  }

  /** Downloads beside the target and renames, so a crash never leaves a half bundle in /tmp. */
  private async fetch(location: S3Location, file: string): Promise<void> {
    await downloadTo(this.s3, location, `${file}.part`);
    renameSync(`${file}.part`, file);
  }

  private async evict(keep: string): Promise<void> {
    for (const [version, entry] of this.loaded) {
      if (this.usedBytes <= this.settings.memoryBudgetBytes) break;
      if (version === keep) continue;
      this.loaded.delete(version);
      this.usedBytes -= entry.bytes;
      await entry.model.release();
    }
  }
}
