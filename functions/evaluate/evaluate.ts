import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { deploymentRecordKey, parseDeploymentRecord } from '../../core/deployment';
import { decideGate } from '../../core/gate';
import { loadServingModel, readBundle } from '../../core/model';
import { type EvaluationSummary, type RunState, scoreTestSplit, type TestScore } from '../../core/pipeline';
import { curatedColumnName } from '../../core/spec/catalog';
import { loadSpecFile } from '../../core/spec/load';
import { downloadPrefix, downloadTo, getText, parseS3Uri, putJson, type S3Pointer } from '../shared/s3';
import { readParquetRows } from '../shared/tables';

/**
 * The evaluate step: scores the candidate, and the champion serving now, on this ingest's test split
 * with the serving code (bundle SHA-256 checked, the bundle's own feature transform), writes
 * evaluation.json and applies the gate. Both models see the very same rows.
 */
export interface EvaluateSettings {
  readonly artifactsBucket: string;
  readonly pipelinesDir: string;
  readonly scratchDir: string;
}

export class EvaluationStepError extends Error {
  override name = 'EvaluationStepError';
}

const score = async (
  s3: S3Client,
  model: S3Pointer,
  dir: string,
  spec: Parameters<typeof scoreTestSplit>[0],
  rows: Record<string, unknown>[],
): Promise<TestScore> => {
  const bundle = await readBundle(
    await downloadTo(s3, model, join(dir, `${model.key.replace(/\W+/g, '_')}.tar.gz`)),
  );
  const serving = await loadServingModel(bundle);
  try {
    return await scoreTestSplit(spec, rows, serving);
  } finally {
    await serving.release();
  }
};

export const evaluateCandidate = async (
  state: RunState,
  deps: { s3: S3Client; settings: EvaluateSettings },
): Promise<EvaluationSummary> => {
  const { s3, settings } = deps;
  if (!state.training) throw new EvaluationStepError('the state carries no training result to evaluate');
  const spec = loadSpecFile(`${settings.pipelinesDir}/${state.pipeline}.yml`);
  const version = state.training.jobName;
  const model = parseS3Uri(state.training.modelArtifacts);
  const dir = mkdtempSync(join(settings.scratchDir, 'mlpipe-evaluate-'));
  try {
    const files = await downloadPrefix(
      s3,
      state.curated.bucket,
      `${state.curated.prefix}split=test/`,
      join(dir, 'test'),
    );
    const curatedNames = new Map(Object.keys(spec.columns).map((name) => [curatedColumnName(name), name]));
    // Curated columns carry Athena-safe names; the serving transform reads the spec's names.
    const rows = (await readParquetRows(files)).map((row) =>
      Object.fromEntries(Object.entries(row).map(([k, v]) => [curatedNames.get(k) ?? k, v])),
    );
    if (rows.length === 0)
      throw new EvaluationStepError(`${state.pipeline}: the test split of ingest ${state.ingestId} is empty`);
    const candidate = await score(s3, model, dir, spec, rows);
    const recordText = await getText(s3, {
      bucket: settings.artifactsBucket,
      key: deploymentRecordKey(spec.name),
    });
    const record = recordText ? parseDeploymentRecord(recordText, deploymentRecordKey(spec.name)) : undefined;
    const championModel =
      record?.champion && record.champion.version !== version ? record.champion : undefined;
    const champion = championModel ? await score(s3, championModel.model, dir, spec, rows) : undefined;
    const gate = decideGate(spec, candidate.metrics, champion);
    const evaluation = { bucket: settings.artifactsBucket, key: `evaluations/${spec.name}/${version}.json` };
    await putJson(s3, evaluation, {
      pipeline: spec.name,
      ingestId: state.ingestId,
      candidate,
      champion: champion ?? null,
      gate,
      at: new Date().toISOString(),
    });
    const finite = (m: Readonly<Record<string, number>>) =>
      Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Number.isFinite(v) ? v : null]));
    return {
      version,
      model,
      evaluation,
      metrics: finite(candidate.metrics),
      champion: champion ? { version: champion.version, metrics: finite(champion.metrics) } : null,
      gate: { passed: gate.passed, reasons: [...gate.reasons], comparedOn: gate.comparedOn },
      rows: candidate.rows,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
