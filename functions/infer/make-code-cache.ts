import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSpecs } from '../../core/spec/load';
import {
  bundleDigest,
  COMPILED_SPECS,
  codeCacheOf,
  lambdaStart,
  loadBundle,
  NODE_START,
  readCodeCachePlan,
} from './code-cache';

// Makes the code caches of the inference image's bundles (code-cache.ts): kept apart from the loader,
// which every cold start runs, for what this needs (child_process alone is ~6 ms to load there).

/**
 * One event per entry point for the run that makes its cache. They are meant to fail early, with no
 * AWS to talk to, yet through the paths a first batch takes: decoding, the spec's first reading,
 * validation, and a signed request of the SDK.
 */
const primingEvents = (pipeline: string): Record<string, unknown> => ({
  'stream-handler': {
    Records: [
      {
        eventSource: 'aws:kinesis',
        eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/priming',
        kinesis: {
          data: Buffer.from(JSON.stringify({ pipeline, id: 'priming' })).toString('base64'),
          partitionKey: 'priming',
          sequenceNumber: '1',
        },
      },
    ],
  },
  'http-handler': {
    body: JSON.stringify({ pipeline, records: [{ id: 'priming' }] }),
    isBase64Encoded: false,
    headers: { 'content-type': 'application/json' },
    requestContext: { requestId: 'priming', http: { method: 'POST', path: '/' } },
  },
  'batch-handler': {
    Records: [
      { s3: { bucket: { name: 'priming' }, object: { key: `batch-input/${pipeline}/priming.csv` } } },
    ],
  },
});

/** What the functions read from their environment, with nothing behind it: requests are refused. */
const primingEnvironment = (scratch: string) => {
  const nowhere = 'http://127.0.0.1:9';
  return {
    ARTIFACTS_BUCKET: 'priming',
    RAW_BUCKET: 'priming',
    PREDICTIONS_STREAM: 'priming',
    FAILURES_QUEUE_URL: `${nowhere}/000000000000/priming`,
    MLPIPE_SCRATCH_DIR: scratch,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'priming',
    AWS_SECRET_ACCESS_KEY: 'priming',
    AWS_ENDPOINT_URL: nowhere,
    AWS_MAX_ATTEMPTS: '1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };
};

/**
 * In a process started as Lambda starts the function's: loads `bundle`, sends its handler one priming
 * event, and writes what V8 compiled meanwhile as the bundle's cache.
 */
const prime = async (bundle: string, pipelinesDir: string) => {
  const digest = bundleDigest(readFileSync(bundle));
  const { exports, script } = loadBundle(bundle, digest);
  const entry = bundle.replace(/^.*\//, '').replace(/\.bundle\.js$/, '');
  const pipeline =
    readdirSync(pipelinesDir)
      .find((f) => f.endsWith('.yml'))
      ?.replace(/\.yml$/, '') ?? 'priming';
  const handler = exports.handler as (event: unknown) => Promise<unknown>;
  try {
    await handler(primingEvents(pipeline)[entry]);
  } catch {
    // Expected: nothing answers its requests. What it compiled on the way is what counts.
  }
  writeFileSync(codeCacheOf(bundle, digest), script.createCachedData());
};

/**
 * Makes the cache of each bundle in `dir` that the plan names, each in a process of its own started
 * as Lambda starts its function, by its memory size. The Dockerfile's last stage runs this (`node
 * make-code-cache.bundle.js make <pipelines dir>`) with the image's node; so do the bench and a test.
 */
const makeCodeCaches = (dir: string, pipelinesDir: string) => {
  // First the specs, so that the priming runs read them as the functions will.
  writeFileSync(join(dir, COMPILED_SPECS), JSON.stringify(compileSpecs(pipelinesDir)));
  for (const [entry, memoryMb] of Object.entries(readCodeCachePlan(dir))) {
    const bundle = join(dir, `${entry}.bundle.js`);
    // Started as Lambda starts the function: the bootstrap's flags, through the image's start-node.sh.
    const start = lambdaStart(dir, memoryMb);
    const scratch = mkdtempSync(join(tmpdir(), 'mlpipe-priming-'));
    try {
      execFileSync(start.file, [...start.args, __filename, 'prime', bundle, pipelinesDir], {
        // None of this machine's AWS settings (an endpoint of the local cloud, a profile) may reach it.
        env: {
          ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_'))),
          ...primingEnvironment(scratch),
        },
        stdio: ['ignore', 'ignore', 'inherit'],
        // Its requests are refused at once; a build must not wait on one that is not.
        timeout: 120_000,
      });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    console.log(`${bundle}: code cache made under ${start.args.slice(1).join(' ')} through ${NODE_START}`);
  }
};

if (require.main === module) {
  const [command, first = '', second = ''] = process.argv.slice(2);
  if (command === 'make') {
    makeCodeCaches(__dirname, first);
  } else if (command === 'prime') {
    prime(first, second).then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  } else {
    console.error('usage: node make-code-cache.bundle.js make <pipelines dir>');
    process.exit(2);
  }
}
