import { resolve } from 'node:path';
import { loadServingModel, readBundle } from '../../core/model';
import { type CliCommand, UsageError } from '../command';
import { parseArgs } from '../options';
import { InputFileError, readRows } from '../read-table';

/** Rows are scored in batches: one onnxruntime call each, as the inference function does. */
const BATCH = 1000;

const quoted = (names: readonly string[]) => names.map((n) => JSON.stringify(n)).join(', ');

export const command: CliCommand = {
  name: 'predict',
  summary:
    'Score a CSV / JSON Lines / JSON / Parquet file with a model folder or model.tar.gz; one JSON line per row',
  usage: 'mlpipe predict --model PATH FILE',
  async run(args, io) {
    const { flags, positional } = parseArgs(args, { model: 'string' });
    const [file, ...extra] = positional;
    if (!flags.model || !file || extra.length > 0) throw new UsageError('expected --model PATH and one FILE');
    // The serving path: the bundle's own feature transform (pipeline models), then its encodings.
    const model = await loadServingModel(await readBundle(resolve(flags.model)));
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
    for (let start = 0; start < rows.length; start += BATCH) {
      const batch = rows.slice(start, start + BATCH);
      const scored = await model.predict(batch);
      const probabilities = scored.probabilities;
      batch.forEach((_, i) => {
        const line: Record<string, unknown> = { prediction: scored.predictions[i] };
        if (probabilities) {
          line.probabilities = Object.fromEntries(
            classes.map((c, k) => [c, Number((probabilities[i * classes.length + k] as number).toFixed(6))]),
          );
        }
        io.out(JSON.stringify(line));
      });
    }
    await model.release();
    return 0;
  },
};
