import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readdirSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { basename, join } from 'node:path';
import { CopyObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  ExecutionAlreadyExists,
  type SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import {
  checkFormat,
  hashSplit,
  type IngestReport,
  type IngestSource,
  IngestTally,
  ingestId,
  reportKey,
  rowValidator,
  type Split,
} from '../../core/ingest';
import type { TrainingInput } from '../../core/pipeline/run-state';
import { curatedColumnName } from '../../core/spec/catalog';
import { loadSpecFile } from '../../core/spec/load';
import type { ColumnType, PipelineSpec } from '../../core/spec/schema';
import { CorruptGzipError, type PlainFile, plainFile } from '../shared/files';
import { downloadTo, getText, putFile, putJson } from '../shared/s3';
import { openTable, quoteSql, readerSql, runSql, TableReadError } from '../shared/table';
import { checkText } from './text';

/**
 * One S3 object → validated, cleaned, split, curated Parquet (or a rejection), one report, and at
 * most one training execution. Whole-file problems are values (a rejected report), never thrown:
 * only infrastructure failures throw, so Lambda's retry is kept for what a retry can fix.
 */
export interface IngestLog {
  info(message: string, extra: Record<string, unknown>): void;
  warn(message: string, extra: Record<string, unknown>): void;
  error(message: string, extra: Record<string, unknown>): void;
}

export interface IngestSettings {
  readonly rawBucket: string;
  readonly curatedBucket: string;
  readonly artifactsBucket: string;
  readonly trainingStateMachineArn: string;
  readonly pipelinesDir: string;
  readonly scratchDir: string;
  readonly maxFileBytes: number;
  readonly maxLineBytes: number;
}

export interface IngestDeps {
  readonly s3: S3Client;
  readonly sfn: SFNClient;
  readonly settings: IngestSettings;
  readonly log: IngestLog;
  readonly now?: () => number;
}

export type TrainingStart = 'started' | 'duplicate' | 'not-started' | 'no-state-machine';

export interface IngestOutcome {
  readonly report: IngestReport;
  readonly training: TrainingStart;
  /** The object had been ingested before (a repeated S3 event): nothing was curated again. */
  readonly repeated: boolean;
  readonly bytes: number;
}

export interface IngestObject extends IngestSource {
  readonly size?: number;
}

class Rejection {
  constructor(readonly reason: string) {}
}

const DUCK_TYPE: Readonly<Record<ColumnType, string>> = {
  string: 'VARCHAR',
  number: 'DOUBLE',
  integer: 'BIGINT',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMP',
};

const pipelineOf = (key: string): string => /^incoming\/([^/]+)\//.exec(key)?.[1] ?? 'unknown';

const jsonValue = (v: unknown): unknown =>
  v instanceof Date ? v.toISOString().replace('T', ' ').replace('Z', '') : v;

const write = async (stream: WriteStream, text: string) => {
  if (!stream.write(text)) await once(stream, 'drain');
};
const finish = async (stream: WriteStream) => {
  stream.end();
  await once(stream, 'close');
};

const readReport = async (s3: S3Client, bucket: string, key: string): Promise<IngestReport | undefined> => {
  const text = await getText(s3, { bucket, key });
  return text === undefined ? undefined : (JSON.parse(text) as IngestReport);
};

export const ingestObject = async (source: IngestObject, deps: IngestDeps): Promise<IngestOutcome> => {
  const { s3, settings, log } = deps;
  const now = deps.now ?? Date.now;
  const started = now();
  const timings: Record<string, number> = {};
  const lap = (name: string, since: number) => {
    timings[name] = now() - since;
    return now();
  };
  const pipelineName = pipelineOf(source.key);
  const id = ingestId(pipelineName, source);
  const reportLocation = { bucket: settings.artifactsBucket, key: reportKey(pipelineName, id) };
  const trainingInput: TrainingInput = {
    pipeline: pipelineName,
    ingestId: id,
    curated: { bucket: settings.curatedBucket, prefix: `curated/${pipelineName}/ingest=${id}/` },
    report: reportLocation,
  };

  const startTraining = async (): Promise<TrainingStart> => {
    try {
      await deps.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: settings.trainingStateMachineArn,
          name: id,
          input: JSON.stringify(trainingInput),
        }),
      );
      log.info('training started', { ingestId: id, execution: id });
      return 'started';
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists || (error as Error).name === 'ExecutionAlreadyExists') {
        log.info('duplicate event: training for this object version was started before', { ingestId: id });
        return 'duplicate';
      }
      if (error instanceof StateMachineDoesNotExist || (error as Error).name === 'StateMachineDoesNotExist') {
        // The data is curated and reported; a retry would not create the state machine.
        log.error('the training state machine does not exist; no training started', {
          ingestId: id,
          stateMachineArn: settings.trainingStateMachineArn,
        });
        return 'no-state-machine';
      }
      throw error;
    }
  };

  // A repeated event for an object version already ingested: never curate twice.
  const previous = await readReport(s3, reportLocation.bucket, reportLocation.key);
  if (previous) {
    log.info('object version already ingested', { ingestId: id, status: previous.status });
    return {
      report: previous,
      training: previous.status === 'curated' ? await startTraining() : 'not-started',
      repeated: true,
      bytes: source.size ?? 0,
    };
  }

  const scratch = mkdtempSync(join(settings.scratchDir, 'mlpipe-ingest-'));
  const tally = new IngestTally();
  let bytes = source.size ?? 0;
  let rejection: string | undefined;
  try {
    const spec = await (async () => {
      try {
        return loadSpecFile(join(settings.pipelinesDir, `${pipelineName}.yml`));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT')
          throw new Rejection(`unknown pipeline "${pipelineName}": no pipelines/${pipelineName}.yml`);
        throw new Rejection(`the spec of pipeline ${pipelineName} is invalid: ${(error as Error).message}`);
      }
    })();
    if (bytes > settings.maxFileBytes)
      throw new Rejection(`file of ${bytes} bytes is over the limit of ${settings.maxFileBytes} bytes`);

    let t = now();
    const original = join(scratch, 'source');
    await downloadTo(s3, source, original);
    bytes = statSync(original).size;
    if (bytes > settings.maxFileBytes)
      throw new Rejection(`file of ${bytes} bytes is over the limit of ${settings.maxFileBytes} bytes`);
    t = lap('downloadMs', t);

    let text: PlainFile;
    try {
      text = await plainFile(original, source.key, scratch);
    } catch (error) {
      if (error instanceof CorruptGzipError) throw new Rejection(error.message);
      throw error;
    }
    const { plain } = text;
    const format = checkFormat(source.key, text.head, text.textHead, spec.input.formats);
    if (!format.ok) throw new Rejection(format.reason);
    const kind = format.detected.format;
    if (kind !== 'parquet') {
      const text = await checkText(plain, settings.maxLineBytes, kind !== 'json');
      if (!text.ok) throw new Rejection(text.reason);
    }
    t = lap('checkMs', t);

    const curated = await curate(spec, plain, kind, scratch, settings, tally);
    t = lap('validateMs', t);
    if (tally.rowsIn === 0) {
      throw new Rejection(kind === 'csv' ? 'no data rows (only a header)' : 'no rows');
    }
    if (tally.rejectRate > spec.input.maxRejectRate) {
      throw new Rejection(
        `${tally.rowsQuarantined} of ${tally.rowsIn} rows failed validation (${(tally.rejectRate * 100).toFixed(1)}%), more than the pipeline's maxRejectRate of ${(spec.input.maxRejectRate * 100).toFixed(1)}%`,
      );
    }
    if (curated.quarantineFile) {
      await putFile(
        s3,
        { bucket: settings.rawBucket, key: `quarantine/${pipelineName}/${id}/rows.jsonl` },
        curated.quarantineFile,
      );
    }
    for (const split of ['train', 'validation', 'test'] as const) {
      const dir = join(curated.outDir, `split=${split}`);
      let part = 0;
      for (const file of safeList(dir)) {
        await putFile(
          s3,
          {
            bucket: settings.curatedBucket,
            key: `${trainingInput.curated.prefix}split=${split}/part-${String(part++).padStart(5, '0')}.parquet`,
          },
          join(dir, file),
        );
      }
    }
    lap('writeMs', t);
  } catch (error) {
    if (!(error instanceof Rejection)) {
      if (!(error instanceof TableReadError)) throw error;
      rejection = `cannot be read as ${basename(source.key)}: ${error.message.split('\n')[0]}`;
    } else rejection = error.reason;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  if (rejection !== undefined) {
    log.warn('file rejected', { ingestId: id, reason: rejection });
    // The file itself goes to quarantine with the reason; nothing is curated from it.
    await s3.send(
      new CopyObjectCommand({
        Bucket: settings.rawBucket,
        Key: `quarantine/${pipelineName}/${id}/source/${basename(source.key)}`,
        CopySource: `${source.bucket}/${source.key.split('/').map(encodeURIComponent).join('/')}`,
        MetadataDirective: 'REPLACE',
        Metadata: { 'mlpipe-reason': encodeURIComponent(rejection.slice(0, 1500)) },
      }),
    );
  }
  timings.totalMs = now() - started;
  const report = tally.report(
    {
      pipeline: pipelineName,
      ingestId: id,
      source: { bucket: source.bucket, key: source.key, etag: source.etag },
      timings,
    },
    rejection,
  );
  await putJson(s3, reportLocation, report);
  log.info('ingest reported', {
    ingestId: id,
    status: report.status,
    rowsIn: report.rowsIn,
    rowsCurated: report.rowsCurated,
    rowsQuarantined: report.rowsQuarantined,
  });
  return {
    report,
    training: report.status === 'curated' ? await startTraining() : 'not-started',
    repeated: false,
    bytes,
  };
};

const safeList = (dir: string): string[] => {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
};

/**
 * The row pass: every row validated; good rows written (cleaned, with their split) to a JSON Lines
 * scratch file, bad ones to the quarantine file; then one DuckDB COPY types the good rows and
 * writes Parquet partitioned by split.
 */
const curate = async (
  spec: PipelineSpec,
  file: string,
  format: 'csv' | 'jsonl' | 'json' | 'parquet',
  scratch: string,
  settings: IngestSettings,
  tally: IngestTally,
): Promise<{ outDir: string; quarantineFile?: string }> => {
  const validate = rowValidator(spec);
  const table = await openTable(readerSql(file, format, spec.input.delimiter, settings.maxLineBytes));
  const goodFile = join(scratch, 'good.jsonl');
  const badFile = join(scratch, 'quarantine.jsonl');
  const good = createWriteStream(goodFile);
  const bad = createWriteStream(badFile);
  const names = table.columns;
  const timeColumn = spec.split.by === 'time' ? spec.split.column : undefined;
  let timedRows = 0;
  const unknown = new Set<string>();
  const known = new Set(Object.keys(spec.columns));
  let rowNumber = 0;
  try {
    for await (const rows of table.chunks()) {
      let goodText = '';
      let badText = '';
      for (const values of rows) {
        rowNumber += 1;
        const raw: Record<string, unknown> = {};
        for (let c = 0; c < names.length; c++) {
          const v = values[c];
          if (v !== null && v !== undefined) raw[names[c] as string] = v;
          else raw[names[c] as string] = null;
        }
        const outcome = validate(raw);
        if (!outcome.ok) {
          tally.quarantine(rowNumber, outcome.problems);
          badText += `${JSON.stringify({ row: rowNumber, problems: outcome.problems, values: raw })}\n`;
          continue;
        }
        const out: Record<string, unknown> = {};
        for (const [name, value] of Object.entries(outcome.row)) {
          if (!known.has(name)) unknown.add(name);
          out[curatedColumnName(name)] = jsonValue(value);
        }
        if (timeColumn !== undefined) {
          const time = (outcome.row[timeColumn] as Date | number | null) ?? Number.NaN;
          const ms = time instanceof Date ? time.getTime() : Number(time);
          timedRows += 1;
          out.__t = Number.isFinite(ms) ? ms : null;
        } else {
          const split: Split = hashSplit(spec, outcome.row);
          out.__split = split;
          tally.curate(split);
        }
        goodText += `${JSON.stringify(out)}\n`;
      }
      if (goodText) await write(good, goodText);
      if (badText) await write(bad, badText);
    }
  } finally {
    table.close();
    await finish(good);
    await finish(bad);
  }
  let splitExpression = '"__split"';
  if (timeColumn !== undefined && timedRows > 0) {
    // The boundaries are timeBoundaries' (the time at rank ceil(q·n)), found from DuckDB's count of
    // rows per distinct time (a year of minutes is at most ~525k groups, whatever the file's size),
    // so a file's timestamps never sit in memory one by one.
    const staged = `read_json(${quoteSql(goodFile)}, format = 'newline_delimited', columns = {'__t': 'DOUBLE'}, maximum_object_size = ${Math.max(settings.maxLineBytes * 4, 16 * 2 ** 20)})`;
    const groups = await runSql([
      `SELECT "__t" AS t, count(*) AS n FROM ${staged} GROUP BY "__t" ORDER BY "__t" NULLS LAST`,
    ]);
    const rank = (q: number) => Math.min(timedRows - 1, Math.max(0, Math.ceil(q * timedRows) - 1));
    const valueAt = (r: number) => {
      let seen = 0;
      let last = 0;
      for (const g of groups) {
        if (g.t !== null && g.t !== undefined) last = Number(g.t);
        seen += Number(g.n);
        if (r < seen) return last;
      }
      return last;
    };
    const bounds = {
      trainEnd: valueAt(rank(spec.split.train)),
      validationEnd: valueAt(rank(spec.split.train + spec.split.validation)),
    };
    splitExpression = `CASE WHEN "__t" <= ${bounds.trainEnd} THEN 'train' WHEN "__t" <= ${bounds.validationEnd} THEN 'validation' ELSE 'test' END`;
    for (const g of groups) {
      const t = g.t === null || g.t === undefined ? Number.NaN : Number(g.t);
      tally.curate(
        t <= bounds.trainEnd ? 'train' : t <= bounds.validationEnd ? 'validation' : 'test',
        Number(g.n),
      );
    }
  }
  const outDir = join(scratch, 'curated');
  const columns = [
    ...Object.entries(spec.columns).map(([name, c]) => [curatedColumnName(name), DUCK_TYPE[c.type]] as const),
    ...[...unknown].map((name) => [curatedColumnName(name), 'VARCHAR'] as const),
  ];
  const good_rows = tally.curated.train + tally.curated.validation + tally.curated.test;
  if (good_rows > 0) {
    const typed = [
      ...columns,
      timeColumn !== undefined ? (['__t', 'DOUBLE'] as const) : (['__split', 'VARCHAR'] as const),
    ];
    const struct = typed.map(([n, t]) => `${quoteSql(n)}: ${quoteSql(t)}`).join(', ');
    const select = columns.map(([n]) => `"${n.replace(/"/g, '""')}"`).join(', ');
    await runSql([
      `COPY (SELECT ${select}, ${splitExpression} AS split FROM read_json(${quoteSql(goodFile)}, format = 'newline_delimited', columns = {${struct}}, maximum_object_size = ${Math.max(settings.maxLineBytes * 4, 16 * 2 ** 20)})) TO ${quoteSql(outDir)} (FORMAT parquet, COMPRESSION snappy, PARTITION_BY (split))`,
    ]);
  }
  return { outDir, ...(tally.rowsQuarantined > 0 ? { quarantineFile: badFile } : {}) };
};
