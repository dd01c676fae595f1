// A Serverless plugin: as `serverless package` (and so `serverless deploy`) begins, the pipeline
// specs are compiled, read and validated with their defaults filled in, into
// pipelines/.compiled.json, which the ingest function carries (its package.patterns). Its first spec
// then costs a JSON read instead of the YAML parser and the schema (~22 ms of a cold start); a spec
// whose file no longer says what was compiled is read from its file (core/spec/load.ts).
'use strict';
require('tsx/cjs');
const { join } = require('node:path');
const { writeCompiledSpecs } = require('../core/spec/load.ts');
const { templateOnly } = require('./functions.js');

class CompiledSpecs {
  constructor(serverless) {
    const dir = join(serverless.serviceDir ?? serverless.config.servicePath, 'pipelines');
    // The local cloud packages the template only: no function code, nothing to carry.
    this.hooks = {
      'package:initialize': () => {
        if (!templateOnly()) writeCompiledSpecs(dir);
      },
    };
  }
}

module.exports = CompiledSpecs;
