import {
  type Decoded,
  type InferenceInput,
  type InputValidator,
  inputValidator,
  POISON_REASONS,
  type Prediction,
} from '../../core/inference';
import type { SpecCatalog } from '../../core/spec/load';

/** The pipelines' specs, each with its input validator built once per instance. */
export class Validators {
  private readonly byPipeline = new Map<string, InputValidator>();

  constructor(private readonly specs: SpecCatalog) {}

  check(input: InferenceInput): Decoded {
    let validate = this.byPipeline.get(input.pipeline);
    if (!validate) {
      const spec = this.specs.find(input.pipeline);
      if (!spec)
        return {
          ok: false,
          poison: {
            reason: POISON_REASONS.unknownPipeline,
            detail: `pipeline: "${input.pipeline}" has no spec (known: ${this.specs.names.join(', ')})`,
            pipeline: input.pipeline,
            id: input.id,
          },
        };
      validate = inputValidator(spec);
      this.byPipeline.set(input.pipeline, validate);
    }
    return validate(input);
  }
}

/**
 * The (pipeline, id, model version) of predictions this instance wrote lately, oldest out first: a
 * retried batch does not write them again.
 */
export class RecentlyWritten {
  private readonly keys = new Set<string>();

  constructor(private readonly capacity = 200_000) {}

  private static key(p: Pick<Prediction, 'pipeline' | 'id' | 'modelVersion'>): string {
    return `${p.pipeline}\u0000${p.id}\u0000${p.modelVersion}`;
  }

  has(p: Pick<Prediction, 'pipeline' | 'id' | 'modelVersion'>): boolean {
    return this.keys.has(RecentlyWritten.key(p));
  }

  add(p: Pick<Prediction, 'pipeline' | 'id' | 'modelVersion'>): void {
    const key = RecentlyWritten.key(p);
    this.keys.delete(key);
    this.keys.add(key);
    if (this.keys.size > this.capacity) {
      const oldest = this.keys.values().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
  }
}
