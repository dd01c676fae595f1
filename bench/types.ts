/** One benchmark module: `bench/<name>.bench.ts` exporting `run`. `bench/run.ts` finds them all. */
export interface BenchRow {
  /** What was measured, e.g. "ingest flights-3m CSV". */
  readonly name: string;
  /** The figure that the goal is about, usually a ratio against a reference measured in the same run. */
  readonly value: number;
  readonly unit: string;
  /** The goal as text, e.g. ">= 0.5", and whether the value meets it. */
  readonly goal?: string;
  readonly pass?: boolean;
  /** Anything else worth reading: raw timings, peak RSS, sizes. */
  readonly details?: Readonly<Record<string, number | string>>;
}

export interface BenchContext {
  /** Scratch folder for generated inputs; deleted after the run. */
  readonly workDir: string;
  /** `npm run bench -- --quick` asks for smaller inputs (used to smoke-test the benchmarks). */
  readonly quick: boolean;
  readonly log: (line: string) => void;
}

export type BenchModule = { run(ctx: BenchContext): Promise<BenchRow[]> };
