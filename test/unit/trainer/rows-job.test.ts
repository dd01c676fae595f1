import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServingModel, readBundle } from '../../../core/model';
import { exampleRows, loadSpecs } from '../../../core/spec';
import { trainOnRows } from '../../../trainers/gbdt/rows-job';

const work = mkdtempSync(join(tmpdir(), 'mlpipe-rows-job-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a training job on raw rows', () => {
  it('leaves a model.tar.gz of each shipped pipeline that scores the spec’s rows', async () => {
    for (const spec of loadSpecs(join(__dirname, '../../../pipelines')).values()) {
      const rows = exampleRows(spec, 12);
      const tar = await trainOnRows(spec, rows, join(work, spec.name), {
        version: `${spec.name}-small`,
        hyperparameters: { num_round: '2', max_depth: '2' },
      });
      const bundle = await readBundle(tar);
      expect(bundle.manifest).toMatchObject({
        pipeline: spec.name,
        version: `${spec.name}-small`,
        task: spec.target.task,
        inputs: spec.features.map((f) => f.name),
      });
      expect(bundle.manifest.lineage.trainer.hyperparameters).toMatchObject({
        num_round: '2',
        max_depth: '2',
        target: 'label',
        pipeline: spec.name,
      });
      expect(bundle.manifest.lineage.data.train?.rows).toBe(12);
      const model = await loadServingModel(bundle, { threads: 1 });
      try {
        const { predictions } = await model.predict(rows);
        expect(predictions).toHaveLength(12);
        if (spec.target.task === 'multiclass') {
          const classes = spec.columns[spec.target.column]?.values ?? [];
          for (const p of predictions) expect(classes).toContain(p);
        }
      } finally {
        await model.release();
      }
    }
  });
});
