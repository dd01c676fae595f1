import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CopyObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  ExecutionAlreadyExists,
  type SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import {
  ANY_TEXT,
  boundaryFractions,
  boundaryRank,
  checkFormat,
  formatOfKey,
  type IngestReport,
  type IngestSource,
  IngestTally,
  ingestId,
  missingColumns,
  nullValuesOf,
  quoteIdent,
  type RowOutcome,
  rankWindows,
  reportKey,
  rowValidator,
  SPLITS,
  type Split,
  type StagedRows,
  splitSql,
  type TextFacts,
  timeBoundariesSql,
  trainBefore,
  unreadableRow,
  untrainableSplits,
  type ValidationSql,
  validationSql,
  wholeSplit,
} from '../../core/ingest';
import type { TrainingInput } from '../../core/pipeline/run-state';
import { curatedColumnName } from '../../core/spec/catalog';
import { type CompiledSpecs, pipelineNames, readPipelineSpec } from '../../core/spec/load';
import type { PipelineSpec } from '../../core/spec/schema';
import { Arrivals, forEachAtOnce } from '../shared/at-once';
import { CorruptGzipError, type PlainFile, plainFile, textWriter } from '../shared/files';
import {
  downloadRanges,
  downloadTo,
  getText,
  headObject,
  ObjectChangedError,
  putFile,
  putJson,
  RANGE_BYTES,
  type S3Pointer,
  unquoted,
} from '../shared/s3';
import {
  openSource,
  openSql,
  openTable,
  quoteSql,
  type Source,
  type Sql,
  TableReadError,
  unreadableObjectReason,
} from '../shared/table';
import {
  CLAIM_MARGIN_MS,
  claimKey,
  claimObjectVersion,
  LONGEST_ATTEMPT_MS,
  releaseClaim,
  removePrefix,
} from './claim';
import { checkInFileOrder, checkText, type TextCheck, TextChecker } from './text';

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
  /** This attempt's id: Lambda's request id, which a retry of the same event keeps. */
  readonly attempt?: string;
  /** How long this attempt may still run (ms): Lambda's remaining time. */
  readonly remainingMs?: number;
  /**
   * The specs of `settings.pipelinesDir` as `serverless package` compiled them: a spec whose file
   * still says the same is taken as it is, without the YAML parser and the schema (~22 ms of a
   * cold function's first ingest).
   */
  readonly compiledSpecs?: CompiledSpecs;
}

export type TrainingStart = 'started' | 'duplicate' | 'not-started' | 'no-state-machine';

export type IngestOutcome =
  | {
      /** `repeated`: the object version had been ingested before, and nothing was curated again. */
      readonly state: 'ingested' | 'repeated';
      readonly report: IngestReport;
      readonly training: TrainingStart;
      readonly bytes: number;
    }
  | {
      /** Another attempt (a duplicate event's) holds the object version: this one did nothing. */
      readonly state: 'in-progress';
      readonly ingestId: string;
      readonly heldBy: string;
    };

export interface IngestObject extends IngestSource {
  readonly size?: number;
}

class Rejection {
  constructor(readonly reason: string) {}
}

/**
 * What `promise` gives or fails with, as a value: a step started early is awaited later (or not
 * at all, by an attempt turned away), and must not reject unheard meanwhile.
 */
const settled = <T>(promise: Promise<T>): Promise<T | Rejection | Error> =>
  promise.catch((error: unknown) =>
    error instanceof Rejection || error instanceof Error ? error : new Error(String(error)),
  );

const UPLOADS_AT_ONCE = 4;

const pipelineOf = (key: string): string => /^incoming\/([^/]+)\//.exec(key)?.[1] ?? 'unknown';

const jsonValue = (v: unknown): unknown =>
  v instanceof Date ? v.toISOString().replace('T', ' ').replace('Z', '') : v;

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

  // Read first: from source, a cold function's first spec loads the YAML parser (~40 ms), which,
  // read during the download, held up the download by more than that. Packaged, the spec is
  // compiled (`compiledSpecs`).
  const specOrRejection = readSpec(settings.pipelinesDir, pipelineName, deps.compiledSpecs);
  // One attempt at a time per object version (claim.ts).
  const claimAt = { bucket: settings.artifactsBucket, key: claimKey(pipelineName, id) };
  const attempt = deps.attempt ?? randomUUID();
  const claiming = claimObjectVersion(
    s3,
    claimAt,
    attempt,
    now() + (deps.remainingMs ?? LONGEST_ATTEMPT_MS) + CLAIM_MARGIN_MS,
    now,
  );
  // The object downloads while the claim and the report are looked up; an attempt that is not to
  // curate stops the download and throws its bytes away.
  const scratch = mkdtempSync(join(settings.scratchDir, 'mlpipe-ingest-'));
  const stop = new AbortController();
  const fetching: Promise<Fetched | Rejection | Error> =
    specOrRejection instanceof Rejection
      ? Promise.resolve(specOrRejection)
      : settled(fetchObject(source, specOrRejection, scratch, deps, stop.signal));
  // One DuckDB instance for every query of the file (table.ts: an instance costs 6-9 ms, a
  // process's first ~14), made while the object downloads.
  const opening = specOrRejection instanceof Rejection ? undefined : settled(openSql());
  let closed = false;
  const closeDb = async () => {
    const db = await opening;
    if (closed || !db || db instanceof Error || db instanceof Rejection) return;
    closed = true;
    db.close();
  };
  const discard = async () => {
    stop.abort();
    await fetching;
    await closeDb();
    await rm(scratch, { recursive: true, force: true });
  };
  let claimed: Awaited<typeof claiming>;
  let previous: IngestReport | undefined;
  try {
    claimed = await claiming;
    // A repeated event for an object version already ingested (its attempt released the claim
    // after writing the report): never curate twice.
    previous =
      'heldBy' in claimed ? undefined : await readReport(s3, reportLocation.bucket, reportLocation.key);
    if (!previous && 'taken' in claimed && claimed.taken === 'resumed') {
      // An attempt that stopped before its report may have left parts this one would not overwrite.
      const removed = await removePrefix(s3, settings.curatedBucket, trainingInput.curated.prefix);
      log.warn('an earlier attempt stopped before its report; curating again', { ingestId: id, removed });
    }
  } catch (error) {
    await discard();
    throw error;
  }
  if ('heldBy' in claimed) {
    await discard();
    log.info('duplicate event: another attempt is ingesting this object version', {
      ingestId: id,
      heldBy: claimed.heldBy,
    });
    return { state: 'in-progress', ingestId: id, heldBy: claimed.heldBy };
  }
  if (previous) {
    await discard();
    await releaseClaim(s3, claimAt);
    log.info('object version already ingested', { ingestId: id, status: previous.status });
    return {
      state: 'repeated',
      report: previous,
      training: trainable(previous) ? await startTraining() : 'not-started',
      bytes: source.size ?? 0,
    };
  }

  const tally = new IngestTally();
  let discarding: Promise<void> | undefined;
  let bytes = source.size ?? 0;
  let rejection: string | undefined;
  try {
    if (specOrRejection instanceof Rejection) throw specOrRejection;
    const spec = specOrRejection;
    const fetched = await fetching;
    if (fetched instanceof Rejection || fetched instanceof Error) throw fetched;
    const db = await opening;
    if (db === undefined || db instanceof Error || db instanceof Rejection)
      throw db ?? new Error('no DuckDB instance');
    const { original } = fetched;
    bytes = fetched.bytes;
    timings.downloadMs = fetched.ms;
    let t = now();

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
    let facts: TextFacts = ANY_TEXT;
    if (kind !== 'parquet') {
      const text =
        fetched.text?.format === kind && plain === original
          ? fetched.text.check
          : await checkText(plain, settings.maxLineBytes, ...textRules(kind, spec));
      if (!text.ok) throw new Rejection(text.reason);
      // Only a CSV file's bytes tell what its values hold: JSON escapes make any character from ASCII.
      facts = text.facts ?? ANY_TEXT;
    }
    t = lap('checkMs', t);

    // A whole file is rejected before any of its rows is curated.
    const accept = (rowsIn: number, rowsQuarantined: number) => {
      if (rowsIn === 0) throw new Rejection(kind === 'csv' ? 'no data rows (only a header)' : 'no rows');
      const rate = rowsQuarantined / rowsIn;
      if (rate > spec.input.maxRejectRate) {
        tally.withhold(rowsIn - rowsQuarantined);
        throw new Rejection(
          `${rowsQuarantined} of ${rowsIn} rows failed validation (${(rate * 100).toFixed(1)}%), more than the pipeline's maxRejectRate of ${(spec.input.maxRejectRate * 100).toFixed(1)}%`,
        );
      }
    };
    // Each curated part uploads as soon as it is final, a few at once, while the rest are written:
    // a time split of data in time order moves most staged files as they are, before it writes the
    // others again. Each split's parts are numbered in the order they come. Every upload is over
    // before a failure is thrown: a retry removes what this attempt wrote, and a write still in
    // flight would land after that.
    const parts = new Arrivals<{ at: S3Pointer; file: string }>();
    const partsOf = new Map<Split, number>();
    const ready = (split: Split, file: string) => {
      const part = partsOf.get(split) ?? 0;
      partsOf.set(split, part + 1);
      const key = `${trainingInput.curated.prefix}split=${split}/part-${String(part).padStart(5, '0')}.parquet`;
      parts.push({ at: { bucket: settings.curatedBucket, key }, file });
    };
    const uploading = forEachAtOnce(parts, UPLOADS_AT_ONCE, ({ at, file }) => putFile(s3, at, file));
    const readAsText = (why: string) =>
      log.info("the file's whole numbers were read again as text", { ingestId: id, why });
    const curating = curate(db, spec, plain, kind, scratch, settings, tally, facts, {
      accept,
      ready,
      readAsText,
    }).finally(() => {
      parts.close();
      // Closing an instance holds the thread 15-25 ms: done while the last parts upload, not while
      // the report is sent.
      void closeDb();
    });
    const [curated, uploaded] = await Promise.allSettled([curating, uploading]);
    if (curated.status === 'rejected') throw curated.reason;
    if (uploaded.status === 'rejected') throw uploaded.reason;
    // Validation, split and the curated parts' upload, which overlap.
    t = lap('curateMs', t);
    if (curated.value.quarantineFile) {
      await putFile(
        s3,
        { bucket: settings.rawBucket, key: `quarantine/${pipelineName}/${id}/rows.jsonl` },
        curated.value.quarantineFile,
      );
    }
    lap('quarantineMs', t);
  } catch (error) {
    if (!(error instanceof Rejection)) {
      if (!(error instanceof TableReadError)) throw error;
      rejection = unreadableObjectReason(error, scratch, basename(source.key));
    } else rejection = error.reason;
  } finally {
    // The scratch folder goes while the report is written.
    discarding = discard();
  }

  if (rejection !== undefined) {
    log.warn('file rejected', { ingestId: id, reason: rejection });
    // The file itself goes to quarantine with the reason; nothing is curated from it. Only the
    // event's version: a newer one under this name is not the file that was rejected.
    try {
      await s3.send(
        new CopyObjectCommand({
          Bucket: settings.rawBucket,
          Key: `quarantine/${pipelineName}/${id}/source/${basename(source.key)}`,
          CopySource: `${source.bucket}/${source.key.split('/').map(encodeURIComponent).join('/')}`,
          CopySourceIfMatch: `"${unquoted(source.etag)}"`,
          MetadataDirective: 'REPLACE',
          Metadata: { 'mlpipe-reason': encodeURIComponent(rejection.slice(0, 1500)) },
        }),
      );
    } catch (error) {
      if ((error as Error).name !== 'PreconditionFailed') throw error;
      log.warn('the rejected version is gone; nothing copied to quarantine', { ingestId: id });
    }
  }
  timings.totalMs = now() - started;
  const tallied = tally.report(
    {
      pipeline: pipelineName,
      ingestId: id,
      source: { bucket: source.bucket, key: source.key, etag: source.etag },
      timings,
    },
    rejection,
  );
  const trainingSkipped =
    tallied.status === 'curated' && !(specOrRejection instanceof Rejection)
      ? untrainableSplits(specOrRejection, tallied.rowsCurated)
      : undefined;
  const report = trainingSkipped === undefined ? tallied : { ...tallied, trainingSkipped };
  if (trainingSkipped !== undefined)
    log.warn('no training started', { ingestId: id, reason: trainingSkipped });
  await putJson(s3, reportLocation, report);
  await releaseClaim(s3, claimAt);
  await discarding;
  log.info('ingest reported', {
    ingestId: id,
    status: report.status,
    rowsIn: report.rowsIn,
    rowsCurated: report.rowsCurated,
    rowsQuarantined: report.rowsQuarantined,
  });
  return {
    state: 'ingested',
    report,
    training: trainable(report) ? await startTraining() : 'not-started',
    bytes,
  };
};

/** Whether a report's rows are to be trained on: curated, with every split training needs. */
const trainable = (report: IngestReport) =>
  report.status === 'curated' && report.trainingSkipped === undefined;

/** How a text file of `format` is checked: its lines (not a JSON array's), and a CSV file's values. */
const textRules = (format: 'csv' | 'jsonl' | 'json', spec: PipelineSpec) =>
  [format !== 'json', format === 'csv' ? spec.input.delimiter : undefined] as const;

/** The object on local disk, and, of a big plain text file, its text check, run as it downloaded. */
interface Fetched {
  readonly original: string;
  readonly bytes: number;
  readonly ms: number;
  readonly text?: { readonly format: 'csv' | 'jsonl' | 'json'; readonly check: TextCheck };
}

/**
 * The event's version of the object into `scratch`, or why it is rejected unread. A big file
 * arrives as ranges; one that its name says is plain text (CSV, JSON) is checked as they arrive,
 * in file order, as the spec's `format` would be checked from disk.
 */
const fetchObject = async (
  source: IngestObject,
  spec: PipelineSpec,
  scratch: string,
  { s3, settings, now = Date.now }: IngestDeps,
  signal: AbortSignal,
): Promise<Fetched> => {
  const started = now();
  // The event gives the size; a direct call may not. Either way, nothing is fetched of a file too large.
  const size = source.size ?? (await headObject(s3, source)).size;
  if (size > settings.maxFileBytes)
    throw new Rejection(`file of ${size} bytes is over the limit of ${settings.maxFileBytes} bytes`);
  const original = join(scratch, 'source');
  const named = formatOfKey(source.key);
  const ranged = size >= RANGE_BYTES;
  const format = named.format === 'parquet' || named.gzip ? undefined : named.format;
  const checking =
    ranged && format !== undefined
      ? checkInFileOrder(
          original,
          new TextChecker(original, settings.maxLineBytes, ...textRules(format, spec)),
        )
      : undefined;
  try {
    if (ranged)
      await downloadRanges(s3, { ...source, size }, original, {
        signal,
        ...(checking && { written: checking.written }),
      });
    else await downloadTo(s3, source, original, signal);
  } catch (error) {
    // The event's version of the object is gone: no retry will read it, and its successor has an
    // event of its own. Reading the successor under this version's id would ingest it twice.
    if (error instanceof ObjectChangedError || (error as Error).name === 'PreconditionFailed')
      throw new Rejection(`the object was replaced before it was read: ${(error as Error).message}`);
    throw error;
  }
  const bytes = statSync(original).size;
  if (bytes > settings.maxFileBytes)
    throw new Rejection(`file of ${bytes} bytes is over the limit of ${settings.maxFileBytes} bytes`);
  return {
    original,
    bytes,
    ms: now() - started,
    ...(checking && format !== undefined && { text: { format, check: checking.end() } }),
  };
};

/** The pipeline's spec, or why the file is rejected without one. */
const readSpec = (
  pipelinesDir: string,
  pipelineName: string,
  compiled: CompiledSpecs | undefined,
): PipelineSpec | Rejection => {
  let spec: PipelineSpec | undefined;
  try {
    spec = readPipelineSpec(pipelinesDir, pipelineName, compiled);
  } catch (error) {
    return new Rejection(`the spec of pipeline ${pipelineName} is invalid: ${(error as Error).message}`);
  }
  if (spec) return spec;
  const known = existsSync(pipelinesDir) ? pipelineNames(pipelinesDir) : [];
  return new Rejection(
    `unknown pipeline "${pipelineName}": no pipelines/${pipelineName}.yml (known pipelines: ${known.join(', ') || 'none'})`,
  );
};

const safeList = (dir: string): string[] => {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
};

/** A file of the staged dataset (DuckDB rotates files by row group) and what its rows hold. */
interface StagedFile extends StagedRows {
  readonly file: string;
}

const asNumber = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);
const fileIndex = (file: string) => Number(/(\d+)\.parquet$/.exec(file)?.[1] ?? 0);

/** `rows` into `dir`/split=<split>/, the split of each row by the SQL `split`. */
const writeBySplit = async (
  db: Sql,
  rows: string,
  split: string,
  dir: string,
): Promise<{ split: Split; file: string; rows: number }[]> => {
  const written = await db.run([
    `COPY (SELECT *, ${split} AS split FROM (${rows})) TO ${quoteSql(dir)} (FORMAT parquet, COMPRESSION snappy, PARTITION_BY (split), RETURN_STATS)`,
  ]);
  return written
    .map((part) => {
      const split = ((part.partition_keys ?? []) as Entries).find(({ key }) => key === 'split')?.value;
      if (!SPLITS.includes(split as Split))
        throw new Error(`a part written by split has no split: ${part.filename}`);
      return { split: split as Split, file: String(part.filename), rows: Number(part.count) };
    })
    .sort((a, b) => a.file.localeCompare(b.file));
};

/** `rows` into a file per split in `dir`, each handed to `written` as soon as it is. */
const writeEachSplit = async (
  db: Sql,
  rows: string,
  split: string,
  dir: string,
  written: (split: Split, file: string, rows: number) => void,
): Promise<void> => {
  mkdirSync(dir, { recursive: true });
  for (const name of SPLITS) {
    const file = join(dir, `${name}.parquet`);
    const [stats] = await db.run([
      `COPY (SELECT * FROM (${rows}) WHERE (${split}) = ${quoteSql(name)}) TO ${quoteSql(file)} (FORMAT parquet, COMPRESSION snappy, RETURN_STATS)`,
    ]);
    const count = Number(stats?.count ?? 0);
    if (count > 0) written(name, file, count);
  }
};

/**
 * Each staged file's rows and failing rows (`good` false), and over `time`, its good rows' earliest
 * and latest time and how many have none: one scan of the marker and time columns.
 */
const readStagedFiles = async (db: Sql, dir: string, good: string, time?: string): Promise<StagedFile[]> => {
  if (safeList(dir).length === 0) return [];
  const times = time
    ? `, min(${time}) FILTER (WHERE ${good}) AS first, max(${time}) FILTER (WHERE ${good}) AS last, count(*) FILTER (WHERE ${good} AND ${time} IS NULL) AS untimed`
    : '';
  const files = await db.run([
    `SELECT filename AS file, count(*) AS rows, count(*) FILTER (WHERE NOT (${good})) AS failing${times} FROM read_parquet(${quoteSql(join(dir, '*.parquet'))}, filename = true) GROUP BY filename`,
  ]);
  return files
    .map((r) => ({
      file: String(r.file),
      rows: Number(r.rows),
      failing: Number(r.failing),
      ...(time && { first: asNumber(r.first), last: asNumber(r.last), untimed: Number(r.untimed) }),
    }))
    .sort((a, b) => fileIndex(a.file) - fileIndex(b.file));
};

/** A column's statistic as COPY … RETURN_STATS gives it: a map (key → text) per column. */
type Entries = readonly { readonly key: unknown; readonly value: unknown }[];
const statistic = (stats: Record<string, unknown>, column: string, name: string): string | undefined => {
  const columns = (stats.column_statistics ?? []) as Entries;
  const found = columns.find(({ key }) => key === quoteIdent(column) || key === column)?.value as
    | Entries
    | undefined;
  const value = found?.find(({ key }) => key === name)?.value;
  return value === null || value === undefined ? undefined : String(value);
};

/**
 * readStagedFiles' answer from the statistics the writer returned, without a scan, where the
 * failing rows are those with no `marker`, and `time` (when the split is by time) is the marker:
 * its minimum and maximum are then the good rows' first and last time, and no good row is untimed.
 * The times are converted by DuckDB, which wrote them as text.
 */
const stagedFromStats = async (
  db: Sql,
  stats: readonly Record<string, unknown>[],
  marker: string,
  time: boolean,
): Promise<StagedFile[] | undefined> => {
  const files = stats.map((file) => ({
    file: String(file.filename),
    rows: Number(file.count),
    failing: Number(statistic(file, marker, 'null_count')),
    min: statistic(file, marker, 'min'),
    max: statistic(file, marker, 'max'),
  }));
  // A statistic the writer left out is read by a scan instead, never guessed.
  const known = files.every(
    (f) =>
      Number.isInteger(f.failing) &&
      (!time || f.failing === f.rows || (f.min !== undefined && f.max !== undefined)),
  );
  if (!known) return undefined;
  const texts = time ? files.flatMap((f) => [f.min, f.max]).filter((t) => t !== undefined) : [];
  const ms = new Map<string, number>();
  if (texts.length > 0) {
    const converted = await db.run([
      `SELECT t, epoch_ms(CAST(t AS TIMESTAMP)) AS ms FROM (VALUES ${texts.map((t) => `(${quoteSql(t)})`).join(', ')}) AS v(t)`,
    ]);
    for (const row of converted) ms.set(String(row.t), Number(row.ms));
  }
  const at = (text: string | undefined) => (text === undefined ? null : (ms.get(text) ?? null));
  return files
    .map(({ file, rows, failing, min, max }) => ({
      file,
      rows,
      failing,
      ...(time && { first: at(min), last: at(max), untimed: 0 }),
    }))
    .sort((a, b) => fileIndex(a.file) - fileIndex(b.file));
};

/**
 * The query of the time boundaries over the curated rows. Where every good row has a time (the
 * time column is required), only the staged files that can hold a boundary's rank are read
 * (rankWindows): flights, in time order, reads 5 of its 13 staged files (DuckDB's writer
 * merges row groups weeks apart into some of them) instead of every row. Then too, the staged
 * files wholly before the earliest the train boundary can be are train whatever the query finds
 * (`earliestTrainEnd`, split.ts' trainBefore), and are curated while it runs.
 */
const timeBoundaries = (
  spec: PipelineSpec,
  staged: readonly StagedFile[],
  rescued: number,
  total: number,
  goodRows: (files: readonly StagedFile[]) => string,
): { readonly sql: string; readonly earliestTrainEnd?: number } => {
  const timed =
    spec.split.by === 'time' &&
    spec.columns[spec.split.column]?.nullable !== true &&
    staged.every((f) => f.rows === f.failing || (f.first != null && f.last != null && f.untimed === 0));
  if (!timed) return { sql: timeBoundariesSql(spec, goodRows(staged), total) };
  const ranges = staged.map((f) => ({ rows: f.rows - f.failing, first: f.first ?? 0, last: f.last ?? 0 }));
  const [train, validation] = boundaryFractions(spec).map((f) => boundaryRank(f, total));
  const { read, windows } = rankWindows(ranges, rescued, [train ?? 0, validation ?? 0]);
  const [first, second] = windows;
  return {
    sql: timeBoundariesSql(
      spec,
      goodRows(staged.filter((_, i) => read[i])),
      total,
      first && second && [first, second],
    ),
    ...(first && { earliestTrainEnd: first.from }),
  };
};

/**
 * The validation of a CSV file whose integer columns DuckDB's reader reads as BIGINT: some 60 ms
 * less of flights' ~530 than reading them as text and casting. Only where the file's bytes hold no
 * fraction and no underscore (TextFacts), as the reader rounds "5.5" to 6 and reads "1_000" as
 * 1000, where Number() does neither; any other value it takes, it takes as Number() does, or it
 * fails the read (test/unit/ingest/validate-sql.test.ts).
 */
const wholeNumbersSql = (
  spec: PipelineSpec,
  source: Source,
  facts: TextFacts,
  nullValues: readonly string[],
): ValidationSql | undefined => {
  if (facts.fractions || facts.underscore || !source.withWholeNumbers) return undefined;
  const whole = source.columns.filter(
    (name) => Object.hasOwn(spec.columns, name) && spec.columns[name]?.type === 'integer',
  );
  const sql = whole.length > 0 ? source.withWholeNumbers(whole) : undefined;
  if (sql === undefined) return undefined;
  return validationSql(spec, sql, source.columns, {
    ...(source.unreadable !== undefined && { unreadable: source.unreadable }),
    facts,
    wholeNumbers: new Set(whole),
    nullValues,
  });
};

/**
 * The rows of a file, validated and split. DuckDB reads the file once and writes every row, typed
 * and checked by the spec's SQL (core/ingest/validate-sql), to staged Parquet files, a file per
 * row group or two. Only the rows the SQL did not pass come back to JavaScript, where rowValidator
 * names each problem (or finds the row good after all). Split by time, a staged file whose rows
 * are all good and all in one split becomes curated output as it is: data that arrives in time
 * order is mostly written once, not twice (flights-3m: 10 of 13 files kept). The rest, and every
 * row of a hash split, is written again by split.
 *
 * DuckDB's rotating writer keeps a file's rows near where they were in the source, not in its
 * order, so curated rows are a set, as Athena reads them; only the failing rows are numbered.
 */
const curate = async (
  db: Sql,
  spec: PipelineSpec,
  file: string,
  format: 'csv' | 'jsonl' | 'json' | 'parquet',
  scratch: string,
  settings: IngestSettings,
  tally: IngestTally,
  facts: TextFacts,
  on: {
    /** Told the file's rows and failing rows before any is curated; throws to curate none. */
    readonly accept: (rowsIn: number, rowsQuarantined: number) => void;
    /** A curated part, final: its rows are in `split`. */
    readonly ready: (split: Split, file: string) => void;
    /** The file's whole numbers were not all read as such (`why`): it was read again as text. */
    readonly readAsText: (why: string) => void;
  },
  /** The file's reader, when not openSource's: its `ragged` one, once the strict reader stopped. */
  reader?: Source,
): Promise<{ quarantineFile?: string }> => {
  const opened = reader ?? (await openSource(file, format, spec.input.delimiter, settings.maxLineBytes, db));
  const { sql: source, columns: sourceColumns, unreadable } = opened;
  // A column every row needs is not in the file: one reason for the file, not one per row.
  const missing = missingColumns(spec, sourceColumns);
  if (missing !== undefined) {
    // A JSON file of no key may hold no value at all ("[]"): a file of no rows, as a CSV file of
    // only a header is.
    const [counted] =
      sourceColumns.length === 0 ? await db.read(`SELECT count(*) AS n FROM (${source})`) : [];
    throw new Rejection(counted !== undefined && Number(counted.n) === 0 ? 'no rows' : missing);
  }
  const nullValues = nullValuesOf(spec, format);
  const validation = validationSql(spec, source, sourceColumns, {
    ...(unreadable !== undefined && { unreadable }),
    facts,
    nullValues,
  });
  const { failing, columns, marked } = validation;
  // Without a required column to mark them, failing rows carry `__ok`, and no staged file can be
  // curated as it stands.
  const good = marked ? `${quoteIdent(marked.column)} IS NOT NULL` : '__ok';
  const stagedDir = join(scratch, 'staged');
  // Rotating files per row group cost the writer nothing measurable (flights: 678 against 703 ms),
  // nor do the statistics it returns of each file.
  const stage = (rows: ValidationSql) =>
    db.read(
      `COPY (${rows.marked?.select ?? rows.select}) TO ${quoteSql(stagedDir)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUPS_PER_FILE 1, RETURN_STATS)`,
    );
  // Whole numbers read by DuckDB's CSV reader where the file's bytes allow it (wholeNumbersSql); a
  // value that is not one fails that read, and the file is staged again with every value as text.
  // Either way, the rows that fail are found and numbered from the text (`failing`).
  const typed = wholeNumbersSql(spec, opened, facts, nullValues);
  let stats: Record<string, unknown>[] | undefined;
  if (typed) {
    try {
      stats = await stage(typed);
    } catch (error) {
      if (!(error instanceof TableReadError)) throw error;
      await rm(stagedDir, { recursive: true, force: true });
      on.readAsText(error.message.split('\n')[0] ?? '');
    }
  }
  if (stats === undefined) {
    try {
      stats = await stage(validation);
    } catch (error) {
      // A row of another width than the header, past the rows the sniffer sampled, stops the strict
      // reader: the file is read again, each such row a bad row.
      if (!(error instanceof TableReadError) || !opened.ragged) throw error;
      await rm(stagedDir, { recursive: true, force: true });
      return curate(db, spec, file, format, scratch, settings, tally, facts, on, await opened.ragged(db));
    }
  }
  const timeColumn = spec.split.by === 'time' ? curatedColumnName(spec.split.column) : undefined;
  const stagedFiles =
    (marked &&
      (timeColumn === undefined || timeColumn === marked.column) &&
      (await stagedFromStats(db, stats, marked.column, timeColumn !== undefined))) ||
    (await readStagedFiles(db, stagedDir, good, timeColumn && `epoch_ms(${quoteIdent(timeColumn)})`));
  const stagedRows = stagedFiles.reduce((sum, f) => sum + f.rows, 0);
  const failingRows = stagedFiles.reduce((sum, f) => sum + f.failing, 0);

  // The failing rows, numbered in file order, go to rowValidator: it explains them, or finds one
  // good after all and it is curated with the rest.
  const validate = rowValidator(spec, { nullValues });
  const rescuedFile = join(scratch, 'rescued.jsonl');
  const badFile = join(scratch, 'quarantine.jsonl');
  let rescuedRows = 0;
  if (failingRows > 0) {
    const rescued = textWriter(rescuedFile);
    const bad = textWriter(badFile);
    const table = await openTable(failing);
    try {
      for await (const rows of table.chunks()) {
        let rescuedText = '';
        let badText = '';
        for (const [row, ...values] of rows as unknown as [number, ...(string | boolean | null)[]][]) {
          const raw: Record<string, unknown> = {};
          sourceColumns.forEach((name, i) => {
            raw[name] = values[i] ?? null;
          });
          const unreadable = values[sourceColumns.length];
          const outcome: RowOutcome =
            typeof unreadable === 'string' ? unreadableRow(unreadable) : validate(raw);
          if (!outcome.ok) {
            tally.quarantine(row, outcome.problems);
            badText += `${JSON.stringify({ row, problems: outcome.problems, values: raw })}\n`;
            continue;
          }
          const out: Record<string, unknown> = {};
          for (const [name, value] of Object.entries(outcome.row))
            out[curatedColumnName(name)] = jsonValue(value);
          rescuedRows += 1;
          rescuedText += `${JSON.stringify(out)}\n`;
        }
        await rescued.write(rescuedText);
        await bad.write(badText);
      }
    } finally {
      table.close();
      await rescued.end();
      await bad.end();
    }
  }

  const names = columns.map(([name]) => quoteIdent(name)).join(', ');
  const struct = columns.map(([n, t]) => `${quoteSql(n)}: ${quoteSql(t)}`).join(', ');
  const goodRows = (files: readonly StagedFile[]) =>
    [
      ...(files.length > 0
        ? [
            `SELECT ${names} FROM read_parquet([${files.map((f) => quoteSql(f.file)).join(', ')}]) WHERE ${good}`,
          ]
        : []),
      ...(rescuedRows > 0
        ? [
            `SELECT ${names} FROM read_json(${quoteSql(rescuedFile)}, format = 'newline_delimited', columns = {${struct}}, maximum_object_size = ${Math.max(settings.maxLineBytes * 4, 16 * 2 ** 20)})`,
          ]
        : []),
    ].join(' UNION ALL ');

  // Every row is staged or explained: the file itself goes now, not in the clean-up at the end.
  const freeing = rm(file, { force: true }).catch(() => {});
  on.accept(stagedRows, tally.rowsQuarantined);
  const curatedRows = stagedRows - tally.rowsQuarantined;
  if (curatedRows > 0) {
    /** Rows counted as they become a part; a part's count comes from the writer that wrote it. */
    const curatedPart = (split: Split, file: string, rows: number) => {
      tally.curate(split, rows);
      on.ready(split, file);
    };
    if (spec.split.by === 'time') {
      // Every row not quarantined is curated: the staged good ones and those rowValidator rescued.
      const { sql, earliestTrainEnd } = timeBoundaries(spec, stagedFiles, rescuedRows, curatedRows, goodRows);
      const early = new Set(
        marked && earliestTrainEnd !== undefined
          ? stagedFiles.filter((f) => trainBefore(f, earliestTrainEnd))
          : [],
      );
      for (const staged of early) curatedPart('train', staged.file, staged.rows);
      const [found] = await db.run([sql]);
      const bounds = {
        trainEnd: Number(found?.trainEnd ?? 0),
        validationEnd: Number(found?.validationEnd ?? 0),
      };
      const rewrite: StagedFile[] = [];
      for (const staged of stagedFiles) {
        const whole = marked && wholeSplit(staged, bounds);
        if (early.has(staged)) {
          // rankWindows' promise, kept: a retry removes what this attempt curated.
          if (whole !== 'train')
            throw new Error(`${staged.file} was curated as train before its boundary was found, but is not`);
        } else if (whole) curatedPart(whole, staged.file, staged.rows);
        else if (staged.rows > staged.failing) rewrite.push(staged);
      }
      if (rewrite.length > 0 || rescuedRows > 0) {
        const parted = join(scratch, 'parted');
        const rows = goodRows(rewrite);
        const split = splitSql(spec, columns, bounds);
        const again = rewrite.reduce((sum, f) => sum + f.rows - f.failing, rescuedRows);
        // Few rows written again (data in time order): a COPY per split, each reading them again,
        // costs less than one partitioned write (flights, 670,000 of 3 M rows: 45-55 against 61
        // ms), and each split's part uploads while the next is written. Many: one partitioned write.
        if (again * SPLITS.length <= curatedRows) await writeEachSplit(db, rows, split, parted, curatedPart);
        else
          for (const part of await writeBySplit(db, rows, split, parted))
            curatedPart(part.split, part.file, part.rows);
      }
    } else {
      // A hash split hashes whole rows: one partitioned pass over them all.
      const written = await writeBySplit(
        db,
        goodRows(stagedFiles),
        splitSql(spec, columns),
        join(scratch, 'parted'),
      );
      for (const part of written) curatedPart(part.split, part.file, part.rows);
    }
  }
  // Every row of the file is curated or quarantined: a row lost on the way would be a bug, not a rejection.
  if (tally.rowsIn !== stagedRows)
    throw new Error(`ingest lost rows: ${stagedRows} read, ${tally.rowsIn} curated or quarantined`);
  await freeing;
  return tally.rowsQuarantined > 0 ? { quarantineFile: badFile } : {};
};
