import { join } from 'node:path';
import { decideGate } from '../../../core/gate';
import { loadSpecs, type PipelineSpec } from '../../../core/spec';

const specs = loadSpecs(join(__dirname, '../../../pipelines'));
const spec = (name: string): PipelineSpec => {
  const s = specs.get(name);
  if (!s) throw new Error(name);
  return s;
};

describe('the evaluation gate', () => {
  it('passes a candidate that meets the thresholds when there is no champion', () => {
    const d = decideGate(spec('penguins'), { accuracy: 0.97, f1: 0.96, logloss: 0.1 });
    expect(d).toMatchObject({ passed: true, reasons: [], comparedOn: 'accuracy' });
    expect(d.checks).toEqual([{ metric: 'accuracy', kind: 'min', value: 0.97, bound: 0.9, passed: true }]);
  });

  it('rejects a candidate below a threshold and says which and by how much', () => {
    const d = decideGate(spec('penguins'), { accuracy: 0.41 });
    expect(d.passed).toBe(false);
    expect(d.reasons).toEqual(['accuracy 0.41 is below the minimum 0.9']);
  });

  it('rejects a candidate worse than the champion by more than the margin, even above the thresholds', () => {
    const d = decideGate(
      spec('penguins'),
      { accuracy: 0.95 },
      { version: 'v1', metrics: { accuracy: 0.98 } },
    );
    expect(d.passed).toBe(false);
    expect(d.reasons).toEqual([
      'accuracy 0.95 is worse than champion v1 (0.98) by more than the margin 0.01',
    ]);
  });

  it('accepts a candidate within the margin of the champion', () => {
    expect(
      decideGate(spec('penguins'), { accuracy: 0.975 }, { version: 'v1', metrics: { accuracy: 0.98 } })
        .passed,
    ).toBe(true);
  });

  it('compares error metrics with a relative margin where lower is better', () => {
    const cars = { ...spec('cars'), gate: { ...spec('cars').gate, compareOn: 'rmse' as const } };
    expect(decideGate(cars, { r2: 0.8, rmse: 3.05 }, { version: 'v1', metrics: { rmse: 3.0 } }).passed).toBe(
      true,
    );
    expect(decideGate(cars, { r2: 0.8, rmse: 3.2 }, { version: 'v1', metrics: { rmse: 3.0 } }).passed).toBe(
      false,
    );
  });

  it('never passes a metric that could not be measured', () => {
    const d = decideGate(spec('flights'), { auc: Number.NaN });
    expect(d.passed).toBe(false);
    expect(d.reasons).toEqual(['auc NaN is below the minimum 0.68']);
  });
});
