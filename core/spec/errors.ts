/** Base of every error about pipeline specs. */
export class SpecError extends Error {
  override name = 'SpecError';
}

export interface SpecProblem {
  /** Dotted path inside the spec, e.g. `gate.metrics.accuracy.min` or `features[2].from`. */
  readonly path: string;
  readonly message: string;
}

/** A spec file that does not match the schema; `problems` lists every mistake, not just the first. */
export class SpecValidationError extends SpecError {
  override name = 'SpecValidationError';
  constructor(
    readonly file: string,
    readonly problems: readonly SpecProblem[],
  ) {
    super(problems.map((p) => `${file}: ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n'));
  }
}

/** A pipeline named by an event or a command that has no spec file. */
export class UnknownPipelineError extends SpecError {
  override name = 'UnknownPipelineError';
  constructor(
    readonly pipeline: string,
    readonly known: readonly string[],
  ) {
    super(`unknown pipeline "${pipeline}"; known pipelines: ${known.join(', ') || '(none)'}`);
  }
}
