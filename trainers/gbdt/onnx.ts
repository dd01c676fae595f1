import { onnx } from 'onnx-proto';
import type { Booster } from './booster';

/**
 * Exports a booster as an ONNX model of one ai.onnx.ml TreeEnsemble operator: one float32 input
 * `input` [N, features]; regression → `variable` [N, 1]; classifiers → `label` [N] and
 * `probabilities` [N, classes] (LOGISTIC / SOFTMAX post-transform, no ZipMap).
 * https://onnx.ai/onnx/operators/onnx_aionnxml_TreeEnsembleClassifier.html
 */
const { AttributeType } = onnx.AttributeProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const STRING = onnx.TensorProto.DataType.STRING;

const ints = (name: string, values: readonly number[]) => ({
  name,
  type: AttributeType.INTS,
  ints: [...values],
});
const floats = (name: string, values: readonly number[]) => ({
  name,
  type: AttributeType.FLOATS,
  floats: [...values],
});
const strings = (name: string, values: readonly string[]) => ({
  name,
  type: AttributeType.STRINGS,
  strings: values.map((v) => new TextEncoder().encode(v)),
});
const string = (name: string, value: string) => ({
  name,
  type: AttributeType.STRING,
  s: new TextEncoder().encode(value),
});

const tensor = (name: string, elemType: number, dims: (number | string)[]) => ({
  name,
  type: {
    tensorType: {
      elemType,
      shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
    },
  },
});

export const ONNX_INPUT = 'input';

export const toOnnx = (
  booster: Booster,
  classes: readonly string[] | undefined,
  producer: string,
): Uint8Array => {
  const nodes = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    featureIds: [] as number[],
    modes: [] as string[],
    values: [] as number[],
    trueIds: [] as number[],
    falseIds: [] as number[],
    missingTrue: [] as number[],
  };
  const leaves = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    targetIds: [] as number[],
    weights: [] as number[],
  };
  const binary = booster.objective === 'binary:logistic';
  booster.trees.forEach((tree, t) => {
    tree.feature.forEach((feature, node) => {
      nodes.treeIds.push(t);
      nodes.nodeIds.push(node);
      const leaf = feature < 0;
      nodes.featureIds.push(leaf ? 0 : feature);
      nodes.modes.push(leaf ? 'LEAF' : 'BRANCH_LEQ');
      nodes.values.push(leaf ? 0 : (tree.threshold[node] as number));
      nodes.trueIds.push(leaf ? 0 : (tree.left[node] as number));
      nodes.falseIds.push(leaf ? 0 : (tree.right[node] as number));
      nodes.missingTrue.push(leaf ? 0 : (tree.missingLeft[node] as number));
      if (leaf) {
        leaves.treeIds.push(t);
        leaves.nodeIds.push(node);
        // A binary classifier scores one class (see TOOLCHAIN.md): every class id 0.
        leaves.targetIds.push(binary ? 0 : t % booster.groups);
        leaves.weights.push(tree.value[node] as number);
      }
    });
  });
  const nodeAttributes = [
    ints('nodes_treeids', nodes.treeIds),
    ints('nodes_nodeids', nodes.nodeIds),
    ints('nodes_featureids', nodes.featureIds),
    strings('nodes_modes', nodes.modes),
    floats('nodes_values', nodes.values),
    ints('nodes_truenodeids', nodes.trueIds),
    ints('nodes_falsenodeids', nodes.falseIds),
    ints('nodes_missing_value_tracks_true', nodes.missingTrue),
  ];
  let node: onnx.INodeProto;
  let outputs: onnx.IValueInfoProto[];
  if (booster.objective === 'reg:squarederror') {
    node = {
      opType: 'TreeEnsembleRegressor',
      domain: 'ai.onnx.ml',
      input: [ONNX_INPUT],
      output: ['variable'],
      attribute: [
        ...nodeAttributes,
        ints('target_treeids', leaves.treeIds),
        ints('target_nodeids', leaves.nodeIds),
        ints('target_ids', leaves.targetIds),
        floats('target_weights', leaves.weights),
        { name: 'n_targets', type: AttributeType.INT, i: 1 },
        floats('base_values', booster.baseScore),
        string('aggregate_function', 'SUM'),
        string('post_transform', 'NONE'),
      ],
    };
    outputs = [tensor('variable', FLOAT, ['N', 1])];
  } else {
    if (!classes || classes.length < 2) throw new Error('a classifier needs its class names');
    node = {
      opType: 'TreeEnsembleClassifier',
      domain: 'ai.onnx.ml',
      input: [ONNX_INPUT],
      output: ['label', 'probabilities'],
      attribute: [
        ...nodeAttributes,
        ints('class_treeids', leaves.treeIds),
        ints('class_nodeids', leaves.nodeIds),
        ints('class_ids', leaves.targetIds),
        floats('class_weights', leaves.weights),
        strings('classlabels_strings', classes),
        floats('base_values', booster.baseScore),
        string('post_transform', binary ? 'LOGISTIC' : 'SOFTMAX'),
      ],
    };
    outputs = [tensor('label', STRING, ['N']), tensor('probabilities', FLOAT, ['N', classes.length])];
  }
  const model: onnx.IModelProto = {
    irVersion: 8,
    producerName: producer,
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'ai.onnx.ml', version: 3 },
    ],
    graph: {
      name: 'mlpipe-gbdt',
      node: [node],
      input: [tensor(ONNX_INPUT, FLOAT, ['N', booster.featureCount])],
      output: outputs,
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
};
