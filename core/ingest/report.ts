import { createHash } from 'node:crypto';
import type { Split } from './split';
import { type FieldProblem, reasonKind } from './validate';

/**
 * The one report every ingest writes, curated or rejected, at reports/ingest/<pipeline>/<id>.json.
 * Its counts always add up: rowsIn = train + validation + test + rowsQuarantined.
 */
export interface IngestSource {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
}

export interface RowError {
  readonly row: number;
  readonly field: string;
  readonly reason: string;
}

export interface IngestReport {
  readonly pipeline: string;
  readonly ingestId: string;
  readonly source: IngestSource;
  readonly status: 'curated' | 'rejected';
  /** Why a whole file was rejected (empty, corrupt, too many bad rows, …). */
  readonly rejection?: string;
  readonly rowsIn: number;
  readonly rowsCurated: Readonly<Record<Split, number>>;
  readonly rowsQuarantined: number;
  readonly reasons: Readonly<Record<string, number>>;
  /** The first MAX_ERRORS problems, with their row number (1 = the first data row). */
  readonly errors: readonly RowError[];
  readonly timings: Readonly<Record<string, number>>;
  /**
   * Why no training was started for rows that were curated (untrainableSplits): a split training
   * needs is empty. Training on them would fail at evaluation, after the training job's cost.
   */
  readonly trainingSkipped?: string;
}

export const MAX_ERRORS = 100;

/** Ingest ids are short, safe in S3 keys and Step Functions execution names (<= 80 chars). */
export const ingestId = (pipeline: string, source: IngestSource): string =>
  `${pipeline}-${createHash('sha256').update(`${source.bucket}\u0000${source.key}\u0000${source.etag}`).digest('hex').slice(0, 20)}`;

export const reportKey = (pipeline: string, id: string): string => `reports/ingest/${pipeline}/${id}.json`;

/** Accumulates the counts of one ingest as rows stream through. */
export class IngestTally {
  rowsIn = 0;
  readonly curated: Record<Split, number> = { train: 0, validation: 0, test: 0 };
  rowsQuarantined = 0;
  readonly reasons: Record<string, number> = {};
  readonly errors: RowError[] = [];

  curate(split: Split, rows = 1): void {
    this.rowsIn += rows;
    this.curated[split] += rows;
  }

  quarantine(row: number, problems: readonly FieldProblem[]): void {
    this.rowsIn += 1;
    this.rowsQuarantined += 1;
    for (const problem of problems) {
      const kind = reasonKind(problem);
      this.reasons[kind] = (this.reasons[kind] ?? 0) + 1;
      if (this.errors.length < MAX_ERRORS)
        this.errors.push({ row, field: problem.field, reason: problem.reason });
    }
  }

  /**
   * Rows that passed but are not curated, as their file is rejected (too many failed): they go to
   * quarantine with the file, and count as quarantined, so every row of the file is accounted for.
   */
  withhold(rows: number): void {
    this.rowsIn += rows;
    this.rowsQuarantined += rows;
  }

  get rejectRate(): number {
    return this.rowsIn === 0 ? 0 : this.rowsQuarantined / this.rowsIn;
  }

  report(
    base: { pipeline: string; ingestId: string; source: IngestSource; timings: Record<string, number> },
    rejection?: string,
  ): IngestReport {
    const curatedTotal = this.curated.train + this.curated.validation + this.curated.test;
    if (curatedTotal + this.rowsQuarantined !== this.rowsIn) {
      throw new Error(
        `ingest ${base.ingestId}: counts do not add up (${curatedTotal} + ${this.rowsQuarantined} != ${this.rowsIn})`,
      );
    }
    // A rejected file curates nothing: its rows all count as quarantined, with the file.
    const rejected = rejection !== undefined;
    return {
      ...base,
      status: rejected ? 'rejected' : 'curated',
      ...(rejected ? { rejection } : {}),
      rowsIn: this.rowsIn,
      rowsCurated: rejected ? { train: 0, validation: 0, test: 0 } : { ...this.curated },
      rowsQuarantined: rejected ? this.rowsIn : this.rowsQuarantined,
      reasons: rejected && this.rowsIn === 0 ? { [rejection]: 1 } : { ...this.reasons },
      errors: [...this.errors],
    };
  }
}
