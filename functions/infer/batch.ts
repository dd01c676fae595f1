import { mkdtempSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { type InferenceInput, POISON_REASONS, type Prediction, predictionsOf } from '../../core/inference';
import { checkFormat } from '../../core/ingest/formats';
import {
  NOT_AN_OBJECT,
  NOT_JSON,
  nullValuesOf,
  reasonKind,
  unreadableProblem,
} from '../../core/ingest/validate';
import { quoteIdent } from '../../core/ingest/validate-sql';
import type { SpecCatalog } from '../../core/spec/load';
import type { InputFormat, PipelineSpec } from '../../core/spec/schema';
import { CorruptGzipError, plainFile, textWriter } from '../shared/files';
import { downloadTo, putFile, putJson } from '../shared/s3';
import {
  openSource,
  openTable,
  quoteSql,
  runSql,
  type Source,
  TableReadError,
  unreadableObjectReason,
  withSql,
} from '../shared/table';
import type { ServingModels } from './models';
import type { Validators } from './scoring';

/**
 * The batch entry point: an object under `batch-input/<pipeline>/` is scored, chunk by chunk (DuckDB
 * reads every format in 2,048-row chunks, so memory stays flat however large the file), into
 * `batch-output/<pipeline>/<name>` in the input's format, with each row's prediction beside its
 * cleaned fields. Rows that break the spec go to `<name>.errors.jsonl` with row, field and reason,
 * and `<name>.report.json` accounts for every row: rowsIn = rowsScored + rowsRejected.
 *
 * A file is scored by ONE model, the champion, so its output is consistent; the canary split is a
 * matter of live traffic, where the alarms watch it.
 */
export interface BatchSettings {
  readonly bucket: string;
  readonly scratchDir: string;
  readonly maxLineBytes: number;
}

export interface BatchDeps {
  readonly s3: S3Client;
  readonly models: ServingModels;
  readonly specs: SpecCatalog;
  readonly validators: Validators;
  readonly settings: BatchSettings;
  readonly now?: () => number;
}

export interface BatchReport {
  readonly source: { readonly bucket: string; readonly key: string };
  readonly status: 'scored' | 'rejected';
  readonly reason?: string;
  readonly modelVersion?: string;
  readonly output?: string;
  readonly rowsIn: number;
  readonly rowsScored: number;
  readonly rowsRejected: number;
  readonly reasons: Readonly<Record<string, number>>;
  readonly errors: readonly { row: number; field: string; reason: string }[];
  readonly timings: Readonly<Record<string, number>>;
}

/** A whole-file refusal: reported, never retried. */
class BatchRejection extends Error {
  override name = 'BatchRejection';
}

const BATCH_PREFIX = 'batch-input/';
const ERRORS_KEPT = 100;
/** A record the reader could not read as a row, and why: an error row, and the rest is scored. */
const unreadableLine = (detail: string) =>
  ({
    ok: false,
    poison: {
      reason:
        detail === NOT_JSON.reason
          ? POISON_REASONS.badJson
          : detail === NOT_AN_OBJECT.reason
            ? POISON_REASONS.notAnObject
            : POISON_REASONS.schemaViolation,
      detail,
      problems: [unreadableProblem(detail)],
    },
  }) as const;

export const batchOutputKeys = (pipelineName: string, inputName: string) => {
  const plain = inputName.replace(/\.gz$/i, '');
  const stem = plain.includes('.') ? plain.slice(0, plain.lastIndexOf('.')) : plain;
  const base = `batch-output/${pipelineName}/${stem}`;
  return {
    output: `batch-output/${pipelineName}/${plain}`,
    errors: `${base}.errors.jsonl`,
    report: `${base}.report.json`,
  };
};

/**
 * The flat output row: its number in the input (the number errors.jsonl gives a rejected row), the
 * input's columns in the input's order (the spec's cleaned, any other as read, so a key of the
 * caller's own comes back to join on), then the model's answer.
 */
const outputRow = (
  row: number,
  input: InferenceInput,
  read: Readonly<Record<string, string | null>>,
  prediction: Prediction,
): Record<string, unknown> => {
  // Without a prototype, a column named `constructor` or `__proto__` is a column like any other.
  const out: Record<string, unknown> = Object.assign(Object.create(null), { input_row: row });
  for (const column of [...Object.keys(read), ...Object.keys(input.fields)]) {
    if (Object.hasOwn(out, column)) continue;
    const value = Object.hasOwn(input.fields, column) ? input.fields[column] : read[column];
    out[column] = value instanceof Date ? value.toISOString() : value;
  }
  out.prediction = prediction.prediction;
  for (const [c, p] of Object.entries(prediction.probabilities ?? {})) out[`probability_${c}`] = p;
  out.model_version = prediction.modelVersion;
  return out;
};

export const scoreBatchObject = async (
  source: { bucket: string; key: string },
  deps: BatchDeps,
): Promise<BatchReport> => {
  const now = deps.now ?? Date.now;
  const started = now();
  const timings: Record<string, number> = {};
  const lap = (name: string, since: number) => {
    const t = now();
    timings[name] = t - since;
    return t;
  };
  const rest = source.key.slice(BATCH_PREFIX.length);
  const pipelineName = rest.slice(0, Math.max(0, rest.indexOf('/')));
  const name = basename(source.key);
  const keys = batchOutputKeys(pipelineName || 'unknown', name);
  const tally = {
    rowsIn: 0,
    rowsScored: 0,
    rowsRejected: 0,
    reasons: {} as Record<string, number>,
    errors: [] as BatchReport['errors'][number][],
  };
  const scratch = mkdtempSync(join(deps.settings.scratchDir, 'mlpipe-batch-'));
  const report = async (fields: Partial<BatchReport> & Pick<BatchReport, 'status'>): Promise<BatchReport> => {
    const value: BatchReport = {
      source,
      ...fields,
      ...tally,
      timings: { ...timings, totalMs: now() - started },
    };
    await putJson(deps.s3, { bucket: deps.settings.bucket, key: keys.report }, value);
    return value;
  };
  try {
    if (!source.key.startsWith(BATCH_PREFIX) || !pipelineName)
      throw new BatchRejection(`${source.key}: expected batch-input/<pipeline>/<file>`);
    const spec = deps.specs.find(pipelineName);
    if (!spec)
      throw new BatchRejection(
        `pipeline "${pipelineName}" has no spec (known: ${deps.specs.names.join(', ')})`,
      );
    const router = await deps.models.router(pipelineName);
    const champion = router?.record.champion;
    if (!champion) throw new BatchRejection(`${pipelineName}: no model is deployed`);

    let t = now();
    const original = join(scratch, 'source');
    await downloadTo(deps.s3, source, original);
    const { plain, head, textHead } = await plainFile(original, source.key, scratch);
    const formats: InputFormat[] = ['csv', 'jsonl', 'json', 'parquet'];
    const checked = checkFormat(source.key, head, textHead, formats);
    if (!checked.ok) throw new BatchRejection(checked.reason);
    const format = checked.detected.format;
    t = lap('downloadMs', t);

    const model = await deps.models.model(champion.version, champion.model);
    const scoredFile = join(scratch, 'scored.jsonl');
    const errorsFile = join(scratch, 'errors.jsonl');
    const missing = new Set(nullValuesOf(spec, format));
    // The rows are counted first, in a read that fails where the reader stops: a streamed read that
    // stops ends as if the file did (DuckDB's C API tells the two apart only by duckdb_result_error,
    // which the Node client does not read), and the rows after would be lost without a word.
    const { rows, rowsInFile } = await withSql(async (sql) => {
      const count = async (read: Source) =>
        Number((await sql.read(`SELECT count(*) AS n FROM (${read.sql})`))[0]?.n ?? 0);
      const opened = await openSource(plain, format, spec.input.delimiter, deps.settings.maxLineBytes, sql);
      try {
        return { rows: opened, rowsInFile: await count(opened) };
      } catch (error) {
        // A row of another width than the header, past the rows the sniffer sampled, stops the
        // strict reader: each such row is an error row, as ingest has it.
        if (!(error instanceof TableReadError) || !opened.ragged) throw error;
        const ragged = await opened.ragged(sql);
        return { rows: ragged, rowsInFile: await count(ragged) };
      }
    });
    const scored = textWriter(scoredFile);
    const errors = textWriter(errorsFile);
    const table = await openTable(rows.sql);
    const unreadableAt = rows.unreadable === undefined ? -1 : table.columns.indexOf(rows.unreadable);
    try {
      for await (const chunk of table.chunks()) {
        const items: { index: number; input: InferenceInput; read: Record<string, string | null> }[] = [];
        for (const values of chunk) {
          tally.rowsIn++;
          const row = tally.rowsIn;
          const read = Object.fromEntries(rows.columns.map((c, i) => [c, values[i] ?? null]));
          // The model sees a missing value's text as missing; the error file keeps the row as read.
          const fields =
            missing.size === 0
              ? read
              : Object.fromEntries(
                  Object.entries(read).map(([c, v]) => [c, v !== null && missing.has(v.trim()) ? null : v]),
                );
          const id = spec.id !== undefined && fields[spec.id] ? String(fields[spec.id]) : `${name}#${row}`;
          const unreadable = values[unreadableAt] as unknown;
          const result =
            typeof unreadable === 'string'
              ? unreadableLine(unreadable)
              : deps.validators.check({ pipeline: pipelineName, id, fields });
          if (result.ok) {
            items.push({ index: row, input: result.input, read });
            continue;
          }
          tally.rowsRejected++;
          for (const problem of result.poison.problems ?? [{ field: '', reason: result.poison.detail }]) {
            const kind = reasonKind(problem);
            tally.reasons[kind] = (tally.reasons[kind] ?? 0) + 1;
            if (tally.errors.length < ERRORS_KEPT)
              tally.errors.push({ row, field: problem.field, reason: problem.reason });
          }
          await errors.write(
            `${JSON.stringify({ row, id, problems: result.poison.problems ?? [], fields: read })}\n`,
          );
        }
        if (items.length === 0) continue;
        // One onnxruntime call per chunk, all with the champion.
        const out = await model.predict(items.map((i) => i.input.fields));
        const predictions = predictionsOf(
          items.map((i) => i.input),
          out,
          model,
          'champion',
        );
        for (const [k, item] of items.entries()) {
          await scored.write(
            `${JSON.stringify(outputRow(item.index, item.input, item.read, predictions[k] as Prediction))}\n`,
          );
          tally.rowsScored++;
        }
      }
    } finally {
      table.close();
      await scored.end();
      await errors.end();
    }
    if (tally.rowsIn !== rowsInFile)
      throw new TableReadError(`the reader stopped after ${tally.rowsIn} of the file's ${rowsInFile} rows`);
    t = lap('scoreMs', t);
    if (tally.rowsIn === 0)
      throw new BatchRejection(format === 'csv' ? 'no data rows (only a header)' : 'no rows');

    const outputFile = join(scratch, 'output');
    // JSON Lines is what was written; other formats are converted (an empty result stays empty).
    const written =
      format === 'jsonl' || tally.rowsScored === 0
        ? scoredFile
        : await convert(
            scoredFile,
            outputFile,
            format,
            rows.types ? parquetOutputTypes(rows.types, spec) : new Map(),
          );
    await putFile(deps.s3, { bucket: deps.settings.bucket, key: keys.output }, written);
    if (tally.rowsRejected > 0)
      await putFile(deps.s3, { bucket: deps.settings.bucket, key: keys.errors }, errorsFile);
    lap('uploadMs', t);
    return await report({
      status: 'scored',
      modelVersion: champion.version,
      output: `s3://${deps.settings.bucket}/${keys.output}`,
    });
  } catch (error) {
    // A file that cannot be read never will be: reported, like ingest does. Anything else (a model
    // or object that cannot be read now) fails the invocation, and S3's asynchronous invoke retries it.
    if (error instanceof BatchRejection || error instanceof CorruptGzipError)
      return await report({ status: 'rejected', reason: error.message });
    if (error instanceof TableReadError)
      return await report({ status: 'rejected', reason: unreadableObjectReason(error, scratch, name) });
    throw error;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
};

/**
 * Types whose values come back unchanged from their text (DuckDB's `CAST(… AS VARCHAR)`, which is how
 * the rows were read): a Parquet input's other columns get them back. Anything else (lists,
 * structs, blobs) stays text.
 */
const ROUND_TRIP_TYPES =
  /^(VARCHAR|BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL\(\d+,\d+\)|DATE|TIME|TIMESTAMP|TIMESTAMP WITH TIME ZONE|TIMESTAMP_S|TIMESTAMP_MS|TIMESTAMP_NS|UUID)$/;

/**
 * The types a Parquet output pins: the input's own for the columns the spec does not clean, and
 * text for the spec's string columns. Without them, DuckDB's JSON reader, which converts the scored
 * rows, guesses a type from each value, and text that looks like a date would become a DATE.
 */
const parquetOutputTypes = (input: ReadonlyMap<string, string>, spec: PipelineSpec) => {
  const types = new Map(
    [...input].filter(
      ([column, type]) => !Object.hasOwn(spec.columns, column) && ROUND_TRIP_TYPES.test(type),
    ),
  );
  for (const [column, definition] of Object.entries(spec.columns))
    if (definition.type === 'string') types.set(column, 'VARCHAR');
  return types;
};

/** JSON Lines → the input's format, by DuckDB, with the passed-through columns' types given back. */
const convert = async (
  jsonl: string,
  out: string,
  format: InputFormat,
  types: ReadonlyMap<string, string>,
): Promise<string> => {
  const source = `read_json(${quoteSql(jsonl)}, format = 'newline_delimited')`;
  const options =
    format === 'csv'
      ? '(FORMAT csv, HEADER true)'
      : format === 'json'
        ? '(FORMAT json, ARRAY true)'
        : '(FORMAT parquet)';
  const typed = [...types].map(([c, t]) => `CAST(${quoteIdent(c)} AS ${t}) AS ${quoteIdent(c)}`);
  const select = typed.length > 0 ? `SELECT * REPLACE (${typed.join(', ')})` : 'SELECT *';
  await runSql([`COPY (${select} FROM ${source}) TO ${quoteSql(out)} ${options}`]);
  return out;
};
