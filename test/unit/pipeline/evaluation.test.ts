import { EvaluationError, type Predictor, scoreTestSplit } from '../../../core/pipeline';
import { loadSpecs, type PipelineSpec } from '../../../core/spec';

const specs = loadSpecs('pipelines');
const spec = (name: string): PipelineSpec => {
  const found = specs.get(name);
  if (!found) throw new Error(`no spec ${name}`);
  return found;
};

/** A predictor that answers from a lookup, so the expected metrics are known exactly. */
const lookup = (version: string, classes: string[], table: Record<string, number[]>): Predictor => ({
  version,
  classes,
  predict: async (rows) => {
    const probabilities = rows.flatMap((row) => table[String(row.id)] ?? []);
    return { predictions: rows.map(() => 0), probabilities };
  },
});

describe('scoring a model on the test split', () => {
  it('computes multiclass metrics on the class names the model knows, skipping unknown classes and missing targets', async () => {
    const rows = [
      { id: 1, Species: 'Adelie' },
      { id: 2, Species: 'Gentoo' },
      { id: 3, Species: 'Chinstrap' },
      { id: 4, Species: null },
      { id: 5, Species: 'Emperor' },
    ];
    const predictor = lookup('v1', ['Adelie', 'Chinstrap', 'Gentoo'], {
      1: [0.8, 0.1, 0.1],
      2: [0.1, 0.1, 0.8],
      3: [0.6, 0.3, 0.1],
    });
    const score = await scoreTestSplit(spec('penguins'), rows, predictor);
    expect(score.rows).toBe(3);
    expect(score.metrics.accuracy).toBeCloseTo(2 / 3);
    expect(score.skipped).toEqual({ 'missing target Species': 1, 'class not seen in training': 1 });
  });

  it('applies the binary positive rule and scores the positive-class probability', async () => {
    const rows = [
      { id: 1, delay: 30 },
      { id: 2, delay: 0 },
      { id: 3, delay: 16 },
      { id: 4, delay: -5 },
    ];
    const predictor = lookup('v1', ['0', '1'], {
      1: [0.2, 0.8],
      2: [0.7, 0.3],
      3: [0.4, 0.6],
      4: [0.9, 0.1],
    });
    const score = await scoreTestSplit(spec('flights'), rows, predictor);
    expect(score.metrics.accuracy).toBe(1);
    expect(score.metrics.auc).toBe(1);
  });

  it('computes regression metrics from the predictions', async () => {
    const rows = [{ Miles_per_Gallon: 20 }, { Miles_per_Gallon: 30 }];
    const predictor: Predictor = { version: 'v1', predict: async () => ({ predictions: [22, 28] }) };
    const score = await scoreTestSplit(spec('cars'), rows, predictor);
    expect(score.metrics.rmse).toBeCloseTo(2);
    expect(score.metrics.mae).toBeCloseTo(2);
  });

  it('fails clearly when no row can be evaluated or the model answers the wrong shape', async () => {
    const predictor = lookup('v1', ['Adelie', 'Chinstrap', 'Gentoo'], { 1: [1, 0] });
    await expect(scoreTestSplit(spec('penguins'), [{ Species: null }], predictor)).rejects.toThrow(
      'no row of the penguins test split can be evaluated',
    );
    await expect(scoreTestSplit(spec('penguins'), [{ id: 1, Species: 'Adelie' }], predictor)).rejects.toThrow(
      EvaluationError,
    );
  });
});
