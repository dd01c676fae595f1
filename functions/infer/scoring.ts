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

/** FNV-1a over the id's UTF-16 code units, never 0 (0 marks an empty slot). */
const idHash = (id: string): number => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return hash === 0 ? 1 : hash;
};

/** Where a generation starts (about 80 KB of tables); it doubles as it fills. */
const INITIAL_SLOTS = 4_096;

/**
 * One generation of remembered ids: an open-addressing table at most half full. A slot holds the
 * id's hash in `hashes`, and the id and its model in `entries`, side by side, so that asking about
 * an id never written reads one number, and remembering one writes two places. (Sets of 100,000
 * strings cost 0.25 ms to ask about a batch of 1,000 ids and 0.35 ms to remember it inside the
 * handler, several times what they cost in a loop of their own: each lookup walks a bucket's chain
 * through memory the batch's other work has moved out of the cache.)
 */
class Generation {
  private hashes: Int32Array;
  private entries: unknown[];
  private mask: number;
  private readonly maxSlots: number;
  size = 0;

  /**
   * Starts small and doubles as it fills, up to twice `capacity` slots: the full table (3 MB for
   * 100,000 ids) took 2 ms to allocate inside every cold start's first write.
   */
  constructor(capacity: number) {
    this.maxSlots = 2 ** Math.ceil(Math.log2(Math.max(capacity, 1) * 2));
    const slots = Math.min(this.maxSlots, INITIAL_SLOTS);
    this.hashes = new Int32Array(slots);
    this.entries = new Array(slots * 2).fill(null);
    this.mask = slots - 1;
  }

  /** The slot holding (model, id), or the empty slot where it would go. */
  private slot(model: object, id: string, hash: number): number {
    for (let i = hash & this.mask; ; i = (i + 1) & this.mask) {
      const h = this.hashes[i];
      if (h === 0 || (h === hash && this.entries[2 * i + 1] === model && this.entries[2 * i] === id))
        return i;
    }
  }

  has(model: object, id: string, hash: number): boolean {
    return this.hashes[this.slot(model, id, hash)] !== 0;
  }

  add(model: object, id: string, hash: number): void {
    const i = this.slot(model, id, hash);
    if (this.hashes[i] !== 0) return;
    this.hashes[i] = hash;
    this.entries[2 * i] = id;
    this.entries[2 * i + 1] = model;
    this.size++;
    // At most half full, so a probe ends at an empty slot soon.
    if (this.size * 2 > this.mask + 1 && this.mask + 1 < this.maxSlots) this.grow();
  }

  private grow(): void {
    const { hashes, entries } = this;
    const slots = hashes.length * 2;
    this.hashes = new Int32Array(slots);
    this.entries = new Array(slots * 2).fill(null);
    this.mask = slots - 1;
    for (let j = 0; j < hashes.length; j++) {
      const hash = hashes[j] as number;
      if (hash === 0) continue;
      let i = hash & this.mask;
      while (this.hashes[i] !== 0) i = (i + 1) & this.mask;
      this.hashes[i] = hash;
      this.entries[2 * i] = entries[2 * j];
      this.entries[2 * i + 1] = entries[2 * j + 1];
    }
  }
}

/**
 * The (pipeline, id, model version) of predictions this instance wrote lately: a retried batch does
 * not write them again. Two generations of `capacity` ids each: when the newer fills up it becomes
 * the older, and the older is dropped whole. So the last `capacity` are always remembered and every
 * call is O(1). (Evicting one oldest key per add from a single Set was not: V8 leaves deleted
 * entries in place until it rehashes, and finding the first live one walked them, so a warm
 * instance paid up to 60 ms per batch of 1,000 once it had written 200,000 predictions.) No key
 * string is built per record: each (pipeline, version) is one object, found in small maps, that the
 * tables compare by identity.
 */
export class RecentlyWritten {
  private readonly models = new Map<string, Map<string, object>>();
  private newer: Generation | undefined;
  private older: Generation | undefined;

  constructor(private readonly capacity = 100_000) {}

  private model(p: Written): object {
    let versions = this.models.get(p.pipeline);
    if (!versions) {
      versions = new Map();
      this.models.set(p.pipeline, versions);
    }
    let model = versions.get(p.modelVersion);
    if (!model) {
      model = {};
      versions.set(p.modelVersion, model);
    }
    return model;
  }

  has(p: Written): boolean {
    if (!this.newer) return false;
    const model = this.model(p);
    const hash = idHash(p.id);
    return this.newer.has(model, p.id, hash) || this.older?.has(model, p.id, hash) === true;
  }

  add(p: Written): void {
    this.newer ??= new Generation(this.capacity);
    this.newer.add(this.model(p), p.id, idHash(p.id));
    if (this.newer.size >= this.capacity) {
      this.older = this.newer;
      this.newer = new Generation(this.capacity);
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
