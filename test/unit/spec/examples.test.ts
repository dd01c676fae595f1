import { join } from 'node:path';
import { fitFeatures } from '../../../core/features/fitted';
import { labelOf } from '../../../core/features/transform';
import { rowValidator } from '../../../core/ingest';
import { exampleRows, loadSpecs, type PipelineSpec, parseSpec } from '../../../core/spec';

const PIPELINES = join(__dirname, '../../../pipelines');

const labels = (spec: PipelineSpec, rows: Record<string, unknown>[]) => {
  const { label } = fitFeatures(spec, { rows: rows.length, numeric: {}, frequencies: {} });
  return new Set(rows.map((row) => labelOf(label, row[spec.target.column])));
};

const SPEC = `
name: examples
input: { formats: [csv] }
columns:
  score: { type: integer, min: 0, max: 100 }
  ratio: { type: number, max: -5 }
  at: { type: timestamp }
  kind: { type: string, values: [a, b] }
  flag: { type: boolean }
  note: { type: string, nullable: true }
target: { column: score, task: binary, positive: { gte: 100 } }
split: { by: hash, train: 0.8, validation: 0.1, test: 0.1 }
features:
  - { name: ratio, from: ratio }
  - { name: hour, from: at, extract: hour }
  - { name: kind, from: kind, encode: category }
trainer: { image: gbdt }
gate: { metrics: { auc: { min: 0.5 } } }
`;

describe('example rows of a spec', () => {
  it('are rows every shipped spec accepts, with two classes or more of a classifier’s target', () => {
    for (const spec of loadSpecs(PIPELINES).values()) {
      const rows = exampleRows(spec, 12);
      expect(rows).toHaveLength(12);
      const validate = rowValidator(spec);
      expect({ pipeline: spec.name, rejected: rows.filter((row) => !validate(row).ok) }).toEqual({
        pipeline: spec.name,
        rejected: [],
      });
      if (spec.target.task !== 'regression') expect(labels(spec, rows).size).toBeGreaterThanOrEqual(2);
    }
  });

  it('keep each value within its column’s range and allowed values, and the target on both sides of its rule', () => {
    const spec = parseSpec(SPEC, 'pipelines/examples.yml');
    const rows = exampleRows(spec, 10);
    const validate = rowValidator(spec);
    expect(rows.filter((row) => !validate(row).ok)).toEqual([]);
    for (const row of rows) {
      expect(Number.isInteger(row.score)).toBe(true);
      expect(row.ratio as number).toBeLessThanOrEqual(-5);
      expect(row.at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      expect(['a', 'b']).toContain(row.kind);
      expect(typeof row.flag).toBe('boolean');
      expect(row.note).not.toBeNull();
    }
    // score >= 100 where 100 is the column's maximum: 99 and 100.
    expect(new Set(rows.map((row) => row.score))).toEqual(new Set([99, 100]));
    expect(labels(spec, rows)).toEqual(new Set([0, 1]));
    expect(new Set(rows.map((row) => row.kind))).toEqual(new Set(['a', 'b']));
    // Seven hours apart: the hour of day varies.
    expect(new Set(rows.map((row) => String(row.at).slice(11, 13))).size).toBeGreaterThan(1);
  });
});
