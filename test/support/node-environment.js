// jest runs each test file in its own realm, with its own Float32Array; native addons such as
// onnxruntime-node create typed arrays of the outer realm and then check `instanceof` against the
// test's. Sharing the outer realm's typed arrays makes both sides agree.
// https://github.com/jestjs/jest/issues/2549
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer',
  'Uint8Array',
  'Int8Array',
  'Uint16Array',
  'Int16Array',
  'Uint32Array',
  'Int32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
];

class SharedTypedArraysEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = SharedTypedArraysEnvironment;
