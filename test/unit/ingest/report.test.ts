import { IngestTally, ingestId, MAX_ERRORS, reportKey } from '../../../core/ingest';

const source = { bucket: 'mlpipe-local-raw', key: 'incoming/penguins/a.csv', etag: '"abc"' };
const base = { pipeline: 'penguins', ingestId: 'penguins-1', source, timings: { totalMs: 5 } };

describe('the ingest report', () => {
  it('accounts for every row: rowsIn = train + validation + test + rowsQuarantined', () => {
    const tally = new IngestTally();
    tally.curate('train');
    tally.curate('train');
    tally.curate('test');
    tally.quarantine(4, [{ field: 'Species', reason: '"Emperor" is not one of Adelie, Gentoo' }]);
    const report = tally.report(base);
    expect(report).toMatchObject({
      status: 'curated',
      rowsIn: 4,
      rowsCurated: { train: 2, validation: 0, test: 1 },
      rowsQuarantined: 1,
    });
    expect(report.rowsIn).toBe(
      report.rowsCurated.train +
        report.rowsCurated.validation +
        report.rowsCurated.test +
        report.rowsQuarantined,
    );
    expect(report.reasons).toEqual({ 'Species: not one of Adelie, Gentoo': 1 });
    expect(report.errors).toEqual([
      { row: 4, field: 'Species', reason: '"Emperor" is not one of Adelie, Gentoo' },
    ]);
  });

  it('keeps the first 100 errors but counts every reason', () => {
    const tally = new IngestTally();
    for (let row = 1; row <= 250; row++)
      tally.quarantine(row, [{ field: 'x', reason: 'required, but empty' }]);
    const report = tally.report(base);
    expect(report.errors).toHaveLength(MAX_ERRORS);
    expect(report.reasons).toEqual({ 'x: required, but empty': 250 });
  });

  it('curates nothing in a rejected file and says why', () => {
    const tally = new IngestTally();
    tally.quarantine(2, [{ field: 'x', reason: 'required, but empty' }]);
    tally.withhold(1);
    const report = tally.report(base, '1 of 2 rows rejected (50%), above the limit of 5%');
    expect(report).toMatchObject({
      status: 'rejected',
      rejection: '1 of 2 rows rejected (50%), above the limit of 5%',
      rowsCurated: { train: 0, validation: 0, test: 0 },
      rowsQuarantined: 2,
      rowsIn: 2,
    });
    expect(new IngestTally().report(base, 'empty file').reasons).toEqual({ 'empty file': 1 });
  });

  it('derives one id per object version, safe for an execution name', () => {
    const id = ingestId('penguins', source);
    expect(id).toMatch(/^penguins-[0-9a-f]{20}$/);
    expect(ingestId('penguins', { ...source, etag: '"def"' })).not.toBe(id);
    expect(ingestId('penguins', source)).toBe(id);
    expect(reportKey('penguins', id)).toBe(`reports/ingest/penguins/${id}.json`);
  });
});
