import type { Variant } from '../../core/deployment';
import {
  type Decoded,
  type InferenceInput,
  type InputValidator,
  inputValidator,
  POISON_REASONS,
  type Poison,
  type Prediction,
  predictionsOf,
} from '../../core/inference';
import type { SpecCatalog } from '../../core/spec/load';
import type { ServingModels } from './models';

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
 * The (pipeline, id, model version) of predictions this instance wrote lately: a retried batch does
 * not write them again. Two generations of `capacity` keys each: when the newer fills up it becomes
 * the older, and the older is dropped whole. So the last `capacity` keys are always remembered and
 * every call is O(1). (Evicting one oldest key per add from a single Set was not: V8 leaves deleted
 * entries in place until it rehashes, and finding the first live one walked them, so a warm
 * instance paid up to 60 ms per batch of 1,000 once it had written 200,000 predictions.)
 */
export class RecentlyWritten {
  private newer = new Set<string>();
  private older = new Set<string>();

  constructor(private readonly capacity = 100_000) {}

  private static key(p: Pick<Prediction, 'pipeline' | 'id' | 'modelVersion'>): string {
    return `${p.pipeline}\u0000${p.id}\u0000${p.modelVersion}`;
  }

  has(p: Pick<Prediction, 'pipeline' | 'id' | 'modelVersion'>): boolean {
    const key = RecentlyWritten.key(p);
    return this.newer.has(key) || this.older.has(key);
  }

  add(p: Pick<Prediction, 'pipeline' | 'id' | 'modelVersion'>): void {
    this.newer.add(RecentlyWritten.key(p));
    if (this.newer.size >= this.capacity) {
      this.older = this.newer;
      this.newer = new Set();
    }
  }
}

export type Outcome =
  | { readonly kind: 'scored'; readonly prediction: Prediction }
  | { readonly kind: 'poison'; readonly poison: Poison }
  /** May succeed later (a model or record that could not be read): never a record's fault. */
  | { readonly kind: 'retry'; readonly reason: string; readonly error: unknown };

export interface Traffic {
  readonly pipeline: string;
  readonly variant: Variant;
  readonly version: string;
  readonly indexes: number[];
}

export const describeError = (error: unknown): string => {
  const e = error as Error;
  return `${e.name ?? 'Error'}: ${e.message ?? String(error)}`;
};

/**
 * Routes valid inputs (each with its index in the caller's batch) to the model serving it — one
 * reading of each pipeline's deployment record, a hash of the id against the challenger's weight —
 * and scores each model's share in ONE onnxruntime call. Shared by the stream, HTTPS and batch
 * entry points, so they cannot route or score differently.
 */
export const scoreInputs = async (
  items: readonly { readonly index: number; readonly input: InferenceInput }[],
  models: ServingModels,
): Promise<{ outcomes: Map<number, Outcome>; traffic: Map<string, Traffic> }> => {
  const outcomes = new Map<number, Outcome>();
  const traffic = new Map<string, Traffic>();
  const byPipeline = new Map<string, (typeof items)[number][]>();
  for (const item of items) {
    const list = byPipeline.get(item.input.pipeline) ?? [];
    list.push(item);
    byPipeline.set(item.input.pipeline, list);
  }
  for (const [pipeline, list] of byPipeline) {
    let router: Awaited<ReturnType<ServingModels['router']>>;
    try {
      router = await models.router(pipeline);
    } catch (error) {
      for (const { index } of list)
        outcomes.set(index, { kind: 'retry', reason: describeError(error), error });
      continue;
    }
    if (!router) {
      for (const { index, input } of list)
        outcomes.set(index, {
          kind: 'poison',
          poison: {
            reason: POISON_REASONS.noModel,
            detail: `${pipeline}: no model is deployed`,
            pipeline,
            id: input.id,
          },
        });
      continue;
    }
    const groups = new Map<
      string,
      { route: NonNullable<ReturnType<typeof router.route>>; items: typeof list }
    >();
    for (const item of list) {
      const route = router.route(item.input.id);
      if (!route) {
        // A record naming only a challenger of weight 0: nothing serves this id.
        outcomes.set(item.index, {
          kind: 'poison',
          poison: {
            reason: POISON_REASONS.noModel,
            detail: `${pipeline}: no model serves this record`,
            pipeline,
            id: item.input.id,
          },
        });
        continue;
      }
      const key = `${pipeline}\u0000${route.variant}\u0000${route.version}`;
      const group = groups.get(key) ?? { route, items: [] };
      group.items.push(item);
      groups.set(key, group);
    }
    for (const [key, { route, items: group }] of groups) {
      traffic.set(key, {
        pipeline,
        variant: route.variant,
        version: route.version,
        indexes: group.map((g) => g.index),
      });
      try {
        const model = await models.model(route.version, route.location);
        const inputs = group.map((g) => g.input);
        const scored = await model.predict(inputs.map((i) => i.fields));
        const predictions = predictionsOf(inputs, scored, model, route.variant);
        group.forEach((g, k) => {
          outcomes.set(g.index, { kind: 'scored', prediction: predictions[k] as Prediction });
        });
      } catch (error) {
        for (const g of group) outcomes.set(g.index, { kind: 'retry', reason: describeError(error), error });
      }
    }
  }
  return { outcomes, traffic };
};
