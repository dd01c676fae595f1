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

type Written = Pick<Prediction, 'pipeline' | 'id' | 'modelVersion'>;
/** The ids written, by pipeline and model version: no key string is built per record. */
type Generation = Map<string, Map<string, Set<string>>>;

/**
 * The (pipeline, id, model version) of predictions this instance wrote lately: a retried batch does
 * not write them again. Two generations of `capacity` ids each: when the newer fills up it becomes
 * the older, and the older is dropped whole. So the last `capacity` are always remembered and every
 * call is O(1). (Evicting one oldest key per add from a single Set was not: V8 leaves deleted
 * entries in place until it rehashes, and finding the first live one walked them, so a warm
 * instance paid up to 60 ms per batch of 1,000 once it had written 200,000 predictions.) Ids are
 * kept by pipeline and version rather than under one joined key: with the key built and hashed for
 * every record, remembering a batch of 1,000 cost 0.86 ms, against 0.5 ms this way.
 */
export class RecentlyWritten {
  private newer: Generation = new Map();
  private older: Generation = new Map();
  private newerSize = 0;

  constructor(private readonly capacity = 100_000) {}

  private static ids(generation: Generation, p: Written): Set<string> | undefined {
    return generation.get(p.pipeline)?.get(p.modelVersion);
  }

  has(p: Written): boolean {
    return (
      RecentlyWritten.ids(this.newer, p)?.has(p.id) === true ||
      RecentlyWritten.ids(this.older, p)?.has(p.id) === true
    );
  }

  add(p: Written): void {
    let versions = this.newer.get(p.pipeline);
    if (!versions) {
      versions = new Map();
      this.newer.set(p.pipeline, versions);
    }
    let ids = versions.get(p.modelVersion);
    if (!ids) {
      ids = new Set();
      versions.set(p.modelVersion, ids);
    }
    const before = ids.size;
    ids.add(p.id);
    this.newerSize += ids.size - before;
    if (this.newerSize >= this.capacity) {
      this.older = this.newer;
      this.newer = new Map();
      this.newerSize = 0;
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
): Promise<{
  outcomes: Map<number, Outcome>;
  traffic: Map<string, Traffic>;
  /** Time in the feature transform and encoding, and in the models (onnxruntime and predictions). */
  timings: { transformMs: number; scoreMs: number };
}> => {
  const timings = { transformMs: 0, scoreMs: 0 };
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
    // Keyed by the route itself: a router answers one object per variant.
    const groups = new Map<NonNullable<ReturnType<typeof router.route>>, typeof list>();
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
      const group = groups.get(route);
      if (group) group.push(item);
      else groups.set(route, [item]);
    }
    for (const [route, group] of groups) {
      traffic.set(`${pipeline}\u0000${route.variant}\u0000${route.version}`, {
        pipeline,
        variant: route.variant,
        version: route.version,
        indexes: group.map((g) => g.index),
      });
      try {
        const model = await models.model(route.version, route.location);
        const inputs = group.map((g) => g.input);
        const started = performance.now();
        const matrix = model.encode(inputs.map((i) => i.fields));
        const encoded = performance.now();
        const scored = await model.run(matrix, inputs.length);
        const predictions = predictionsOf(inputs, scored, model, route.variant);
        timings.transformMs += encoded - started;
        timings.scoreMs += performance.now() - encoded;
        group.forEach((g, k) => {
          outcomes.set(g.index, { kind: 'scored', prediction: predictions[k] as Prediction });
        });
      } catch (error) {
        for (const g of group) outcomes.set(g.index, { kind: 'retry', reason: describeError(error), error });
      }
    }
  }
  return { outcomes, traffic, timings };
};
