import { loadSpecs, type PipelineSpec, parseSpec, targetLabel } from '../../../core/spec';

const specs = loadSpecs('pipelines');
const spec = (name: string): PipelineSpec => {
  const found = specs.get(name);
  if (!found) throw new Error(`no spec ${name}`);
  return found;
};

const binaryOn = (column: string) =>
  parseSpec(
    `name: churn
columns:
  churned: ${column}
  tenure: { type: number }
target: { column: churned, task: binary }
split: { by: hash, train: 0.8, validation: 0.1, test: 0.1 }
features: [{ name: tenure, from: tenure }]
`,
    'pipelines/churn.yml',
  );

describe('the label of a row', () => {
  it('applies the positive rule of a binary target (flights: delay > 15)', () => {
    expect(targetLabel(spec('flights'), 16)).toBe(1);
    expect(targetLabel(spec('flights'), 15)).toBe(0);
    expect(targetLabel(spec('flights'), '-3')).toBe(0);
    expect(targetLabel(spec('flights'), null)).toBeNull();
  });

  it('takes the second of two allowed values, or true, as the positive class', () => {
    const twoValues = binaryOn('{ type: string, values: [stayed, left] }');
    expect(targetLabel(twoValues, 'left')).toBe(1);
    expect(targetLabel(twoValues, 'stayed')).toBe(0);
    const flag = binaryOn('{ type: boolean }');
    expect(targetLabel(flag, true)).toBe(1);
    expect(targetLabel(flag, false)).toBe(0);
  });

  it('keeps the class name for multiclass and the number for regression', () => {
    expect(targetLabel(spec('penguins'), 'Gentoo')).toBe('Gentoo');
    expect(targetLabel(spec('cars'), '18.5')).toBe(18.5);
    expect(targetLabel(spec('cars'), 'n/a')).toBeNull();
  });
});
