import { resolve } from 'node:path';
import { recordValidator } from '../../core/inference';
import type { RowValidator } from '../../core/ingest/validate';
import { loadServingModel, readBundle } from '../../core/model';
import { SpecCatalog } from '../../core/spec/load';
import { type CliCommand, type CliIo, UsageError } from '../command';
import { parseArgs } from '../options';
import { InputFileError, readRows } from '../read-table';

/** Rows are scored in batches: one onnxruntime call each, as the inference function does. */
const BATCH = 1000;

const quoted = (names: readonly string[]) => names.map((n) => JSON.stringify(n)).join(', ');

/**
 * The rows' validator of the model's pipeline, as the inference function validates a record (the
 * spec's types, ranges and allowed values, without the target); none for a model of no pipeline.
 * A pipeline model whose spec is not found is scored unvalidated, and says so.
 */
const validatorOf = (pipeline: string | null, dir: string, io: CliIo): RowValidator | undefined => {
  if (pipeline === null) return undefined;
  let spec: ReturnType<SpecCatalog['find']>;
  try {
    spec = new SpecCatalog(dir).find(pipeline);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (!spec) {
    io.err(
      `mlpipe predict: no spec of pipeline "${pipeline}" in ${dir}: rows are scored as given, unvalidated`,
    );
    return undefined;
  }
  return recordValidator(spec);
};

export const command: CliCommand = {
  name: 'predict',
  summary:
    'Score a CSV / JSON Lines / JSON / Parquet file with a model folder or model.tar.gz; one JSON line per row',
  usage: 'mlpipe predict --model PATH [--pipelines DIR] FILE',
  async run(args, io) {
    const { flags, positional } = parseArgs(args, { model: 'string', pipelines: 'string' });
    const [file, ...extra] = positional;
    if (!flags.model || !file || extra.length > 0) throw new UsageError('expected --model PATH and one FILE');
    // The serving path: the bundle's own feature transform (pipeline models), then its encodings.
    const bundle = await readBundle(resolve(flags.model));
    const model = await loadServingModel(bundle);
    const classes = model.classes ?? [];
    const rows = await readRows(resolve(file));
    // A value missing here and there is scored as serving scores it (imputed, or the trees' default
    // path); a column missing from the whole file is a wrong file, not data to score.
    const unseen = new Set(model.columns);
    for (const row of rows) {
      for (const column of Object.keys(row)) unseen.delete(column);
      if (unseen.size === 0) break;
    }
    if (rows.length > 0 && unseen.size > 0) {
      const absent = [...unseen];
      throw new InputFileError(
        `${file}: no row has the column${absent.length > 1 ? 's' : ''} ${quoted(absent)}; the model reads ${quoted(model.columns)}`,
      );
    }
    const pipeline = bundle.manifest.pipeline;
    const validate = validatorOf(pipeline, resolve(flags.pipelines ?? 'pipelines'), io);
    let rejected = 0;
    for (let start = 0; start < rows.length; start += BATCH) {
      // Each line names its row (1 is the file's first): a prediction, or why the row was refused.
      const lines: Record<string, unknown>[] = [];
      const valid: { line: Record<string, unknown>; row: Record<string, unknown> }[] = [];
      rows.slice(start, start + BATCH).forEach((raw, i) => {
        const line: Record<string, unknown> = { row: start + i + 1 };
        lines.push(line);
        const outcome = validate ? validate(raw) : { ok: true as const, row: raw };
        if (outcome.ok) valid.push({ line, row: outcome.row });
        else {
          line.problems = outcome.problems;
          rejected += 1;
        }
      });
      const scored = await model.predict(valid.map((v) => v.row));
      const probabilities = scored.probabilities;
      valid.forEach(({ line }, i) => {
        line.prediction = scored.predictions[i];
        if (probabilities) {
          line.probabilities = Object.fromEntries(
            classes.map((c, k) => [c, Number((probabilities[i * classes.length + k] as number).toFixed(6))]),
          );
        }
      });
      for (const line of lines) io.out(JSON.stringify(line));
    }
    await model.release();
    if (rejected === 0) return 0;
    io.err(
      `mlpipe predict: ${rejected} of ${rows.length} rows of ${file} break the ${pipeline} spec and were not scored; their lines name the field and reason`,
    );
    return 1;
  },
};
