import { compileFeatures, compileTransform, fitFeatures, OTHER_CATEGORY } from '../../../core/features';
import { type ColumnEncoding, encodeRows, rowEncoder } from '../../../core/model/encoding';
import { loadSpecFile } from '../../../core/spec/load';

describe('encoding records for a model', () => {
  const spec = loadSpecFile('pipelines/flights.yml');
  const fitted = fitFeatures(spec, {
    rows: 5,
    numeric: {},
    frequencies: {
      origin: [
        { value: 'LAX', count: 3 },
        { value: 'SFO', count: 2 },
      ],
      destination: [{ value: 'JFK', count: 5 }],
    },
  });
  const encodings: ColumnEncoding[] = [
    ...fitted.features.map(
      (f): ColumnEncoding =>
        f.kind === 'category'
          ? { column: f.name, kind: 'category', categories: ['SFO', OTHER_CATEGORY, 'LAX'] }
          : { column: f.name, kind: 'numeric' },
    ),
    // A column no fitted feature makes: missing, as in the transformed records.
    { column: 'delay', kind: 'numeric' },
  ];
  const rows = [
    { date: '2001-01-14 21:55:00', distance: 100, origin: 'LAX', destination: 'JFK', delay: 5 },
    { date: new Date(Date.UTC(2001, 5, 1, 6)), distance: '2,000', origin: 'NOWHERE', destination: null },
    { date: null, distance: null, origin: '', destination: 'JFK' },
    {},
  ];

  it('computes each feature from the raw record and encodes it, as encodeRows of the transformed records does', () => {
    const transform = compileTransform(fitted);
    const expected = encodeRows(encodings, rows.map(transform));
    expect(Array.from(rowEncoder(encodings, compileFeatures(fitted))(rows))).toEqual(Array.from(expected));
    expect(expected.some((v) => Number.isNaN(v))).toBe(true);
    expect(expected.some((v) => v > 0)).toBe(true);
  });

  it('encodes records as they are without fitted features: numbers as numbers, categories by index, the rest NaN', () => {
    const plain: ColumnEncoding[] = [
      { column: 'distance', kind: 'numeric' },
      { column: 'origin', kind: 'category', categories: ['LAX', 'SFO'] },
    ];
    const nan = Number.NaN;
    expect(Array.from(rowEncoder(plain)(rows))).toEqual([100, 0, nan, nan, nan, nan, nan, nan]);
    expect(Array.from(encodeRows(plain, rows))).toEqual([100, 0, nan, nan, nan, nan, nan, nan]);
  });
});
