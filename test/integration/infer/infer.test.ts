import { execFile } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SignatureV4 } from '@smithy/signature-v4';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { CANARY_METRICS, chooseVariant } from '../../../core/deployment';
import type { Prediction } from '../../../core/inference';
import { loadSpecFile, pipelineNames, readCompiledSpecs } from '../../../core/spec/load';
import type { BatchReport } from '../../../functions/infer/batch';
import { bundleInference, lambdaStartOf, makeCodeCaches, THIS_NODE } from '../../../functions/infer/bundle';
import { COMPILED_SPECS, lambdaNodeFlags } from '../../../functions/infer/code-cache';
import { runSql } from '../../../functions/shared/table';
import { type LocalCloud, startLocalCloud } from '../../../local/cloud';
import { lambdaKinesisRecord } from '../../../local/event-sources/kinesis';
import { readStream } from '../../../local/kinesis';
import { functionUrlOf } from '../../../local/lambda';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localClientConfig, localS3Config } from '../../../local/types';
import { jsonDataset } from '../../support/datasets';
import { modelKey, PENGUIN_HYPERPARAMETERS, trainModel, writeDeployment } from '../../support/models';

const ARTIFACTS = 'mlpipe-local-artifacts';
const EVENTS = 'mlpipe-local-events';
const PREDICTIONS = 'mlpipe-local-predictions';
const FUNCTION = 'mlpipe-local-infer-stream';
/** The local stage re-reads deployment records every second (params.local.modelRecordTtlMs). */
const RECORD_TTL_MS = 1_000;

const penguins = jsonDataset('penguins.json');
const event = (id: string, row: Record<string, unknown>) =>
  JSON.stringify({ pipeline: 'penguins', id, ...row });

const bytes = (data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

/** Node's own SHA-256, in the shape SignatureV4 takes. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret ? createHmac('sha256', bytes(secret)) : createHash('sha256');
  }
  update(data: string | ArrayBuffer | ArrayBufferView) {
    this.hash.update(bytes(data));
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}

describe('the inference image in the local cloud: stream, HTTPS and batch entry points', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-infer-'));
  let cloud: LocalCloud;
  let s3: S3Client;
  let kinesis: KinesisClient;
  let sqs: SQSClient;
  let lambda: LambdaClient;
  let cloudwatch: CloudWatchClient;
  let failuresQueueUrl: string;

  beforeAll(async () => {
    cloud = await startLocalCloud({ dataDir, port: 0 });
    s3 = new S3Client(localS3Config(cloud.s3.url));
    // The SDK's defaults (HTTP/2), as the functions use them.
    kinesis = new KinesisClient(localClientConfig(cloud.kinesis.url));
    sqs = new SQSClient(localClientConfig(cloud.sqs.url));
    lambda = new LambdaClient(localClientConfig(cloud.lambda.url));
    cloudwatch = new CloudWatchClient(localClientConfig(cloud.cloudwatch.url));
    failuresQueueUrl = cloud.sqs.queueUrl('mlpipe-local-infer-failures');
    // Two versions of the penguins model, trained by the real trainer on the real data.
    const work = join(dataDir, 'models');
    for (const [version, rounds] of [
      ['penguins-v1', '40'],
      ['penguins-v2', '80'],
    ] as const) {
      const file = await trainModel(work, version, penguins, {
        ...PENGUIN_HYPERPARAMETERS,
        num_round: rounds,
      });
      await s3.send(
        new PutObjectCommand({
          Bucket: ARTIFACTS,
          Key: modelKey('penguins', version),
          Body: readFileSync(file),
        }),
      );
    }
    await writeDeployment(s3, ARTIFACTS, 'penguins', 'penguins-v1');
  }, 120_000);
  afterAll(async () => {
    for (const c of [s3, kinesis, sqs, lambda, cloudwatch]) c.destroy();
    await cloud.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const put = async (events: readonly { id: string; data: string }[]) => {
    for (let i = 0; i < events.length; i += 500) {
      const out = await kinesis.send(
        new PutRecordsCommand({
          StreamName: EVENTS,
          Records: events.slice(i, i + 500).map((e) => ({ Data: Buffer.from(e.data), PartitionKey: e.id })),
        }),
      );
      expect(out.FailedRecordCount ?? 0).toBe(0);
    }
    await cloud.settle();
  };

  /** Every prediction on the predictions stream so far. */
  const predictions = async (): Promise<Prediction[]> =>
    (await readStream(kinesis, PREDICTIONS)).map((d) => JSON.parse(Buffer.from(d).toString()) as Prediction);
  const predictionsOf = async (prefix: string) =>
    (await predictions()).filter((p) => p.id.startsWith(prefix));

  /** Messages of the failure queue, taken off it. */
  const failures = async (): Promise<Record<string, unknown>[]> => {
    const out: Record<string, unknown>[] = [];
    for (;;) {
      const got = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: failuresQueueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
        }),
      );
      const messages = got.Messages ?? [];
      if (messages.length === 0) return out;
      for (const m of messages) {
        out.push(JSON.parse(m.Body ?? '{}') as Record<string, unknown>);
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: failuresQueueUrl, ReceiptHandle: m.ReceiptHandle }),
        );
      }
    }
  };

  /** One record of a Kinesis event as Lambda delivers it from the events stream. */
  const kinesisRecord = (id: string, data: string, sequence: number) =>
    lambdaKinesisRecord({ data, partitionKey: id, sequenceNumber: String(sequence) }, EVENTS);

  const countById = (list: readonly Prediction[]) => {
    const counts = new Map<string, number>();
    for (const p of list)
      counts.set(`${p.id}@${p.modelVersion}`, (counts.get(`${p.id}@${p.modelVersion}`) ?? 0) + 1);
    return counts;
  };

  it('scores every penguin streamed in exactly once, with the champion, as well as the gate measured', async () => {
    await put(penguins.map((row, i) => ({ id: `all-${i}`, data: event(`all-${i}`, row) })));
    const got = await predictionsOf('all-');
    expect(got).toHaveLength(penguins.length);
    expect(new Set(got.map((p) => p.id)).size).toBe(penguins.length);
    expect(new Set(got.map((p) => p.modelVersion))).toEqual(new Set(['penguins-v1']));
    const right = got.filter((p) => p.prediction === penguins[Number(p.id.slice(4))]?.Species).length;
    expect(right / got.length).toBeGreaterThan(0.95);
    const first = got[0];
    expect(Object.keys(first?.probabilities ?? {}).sort()).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
  });

  it('sends poison pills to the failure queue with their reason, and scores the records around them', async () => {
    const good = penguins.slice(0, 20).map((row, i) => ({ id: `mix-${i}`, data: event(`mix-${i}`, row) }));
    const poison = [
      { id: 'p-json', data: '{"pipeline": "penguins", "id": ' },
      { id: 'p-array', data: '[1, 2]' },
      { id: 'p-nopipe', data: JSON.stringify({ id: 'p-nopipe', Island: 'Dream' }) },
      { id: 'p-noid', data: JSON.stringify({ pipeline: 'penguins', Island: 'Dream' }) },
      { id: 'p-unknown', data: JSON.stringify({ pipeline: 'walruses', id: 'p-unknown' }) },
      {
        id: 'p-schema',
        data: event('p-schema', { ...penguins[0], Island: 'Atlantis', 'Body Mass (g)': 'heavy' }),
      },
    ];
    // Poison first, between and last: none may hold back the records behind it.
    const mixed = [
      poison[0],
      ...good.slice(0, 10),
      ...poison.slice(1, 5),
      ...good.slice(10),
      poison[5],
    ].filter((e): e is { id: string; data: string } => e !== undefined);
    await put(mixed);
    const scored = await predictionsOf('mix-');
    const failed = await failures();
    expect(scored).toHaveLength(good.length);
    expect(failed).toHaveLength(poison.length);
    expect(scored.length + failed.length).toBe(mixed.length);
    const reasons = Object.fromEntries(failed.map((f) => [f.reason, f]));
    expect(Object.keys(reasons).sort()).toEqual(
      [
        'bad-json',
        'missing-id',
        'missing-pipeline',
        'not-an-object',
        'schema-violation',
        'unknown-pipeline',
      ].sort(),
    );
    expect(reasons['schema-violation']).toMatchObject({ id: 'p-schema', pipeline: 'penguins' });
    expect(String(reasons['schema-violation']?.detail)).toMatch(/Island: .*Atlantis/);
    expect(String(reasons['schema-violation']?.detail)).toMatch(/Body Mass \(g\): /);
    expect(String(reasons['unknown-pipeline']?.detail)).toContain('walruses');
    // The original record travels with the reason, so it can be fixed and replayed.
    expect(Buffer.from(String(reasons['bad-json']?.data), 'base64').toString()).toBe(poison[0]?.data);
    expect(reasons['bad-json']?.source).toMatchObject({ eventSourceARN: expect.stringContaining(EVENTS) });
  });

  it('scores from the bundles the image ships, compiled from their code caches: each prediction once, poison to the failure queue, and every entry point loads', async () => {
    const image = join(dataDir, 'image');
    const bundled = await bundleInference({ outdir: image, target: THIS_NODE });
    const made = makeCodeCaches(image);
    // The stream and HTTPS caches are made after a priming run that scored, one record of each
    // pipeline on the stream (against the build's stand-ins for S3 and Kinesis, with models trained on
    // the specs' example rows); the batch entry point's stops at its first request.
    const pipelines = pipelineNames(join(__dirname, '../../../pipelines')).length;
    expect(made).toContain(
      `stream-handler.bundle.js: code cache made under ${lambdaNodeFlags(2048).join(' ')} through start-node.sh, after a priming run that scored ${pipelines} record(s), 0 failed, ${pipelines} written`,
    );
    expect(made).toMatch(
      /http-handler\.bundle\.js: code cache made under .*, after a priming run that answered 200$/m,
    );
    expect(made).toMatch(
      /batch-handler\.bundle\.js: code cache made under .*, after a priming run that stopped at \w+$/m,
    );
    // One cache per entry point, each named by its bundle's digest.
    expect(
      readdirSync(join(image, 'functions', 'infer'))
        .filter((f) => f.endsWith('.cache'))
        .map((f) => f.replace(/\.bundle\.js\.[0-9a-f]{16}\.cache$/, ''))
        .sort(),
    ).toEqual(['batch-handler', 'http-handler', 'stream-handler']);
    // Beside them, the specs compiled from the pipelines folder, which the functions read instead.
    expect(
      readCompiledSpecs(join(image, 'functions', 'infer', COMPILED_SPECS))?.specs.penguins?.spec,
    ).toEqual(loadSpecFile(join(__dirname, '../../../pipelines/penguins.yml')));
    const scratch = mkdtempSync(join(dataDir, 'bundle-tmp-'));
    /**
     * Runs `script` in a process of its own, as a Lambda instance of the entry point's function: with
     * its settings, node started as Lambda starts it for its memory size, through the image's
     * start-node.sh (or with `flags` alone); asynchronously, for the local cloud answers from this
     * process.
     */
    const inInstance = async (
      entry: 'stream' | 'http' | 'batch',
      script: string,
      args: string[] = [],
      flags?: string[],
    ) => {
      const start = flags
        ? { file: process.execPath, args: flags }
        : lambdaStartOf(image, `${entry}-handler`);
      return await promisify(execFile)(start.file, [...start.args, '-e', script, ...args], {
        env: {
          ...process.env,
          ...cloud.plan.functions.find((f) => f.functionName === `mlpipe-local-infer-${entry}`)?.environment,
          ...cloud.env,
          // Where the image has onnxruntime-node, beside the bundle; here, the repository's packages.
          NODE_PATH: join(__dirname, '../../../node_modules'),
          TMPDIR: scratch,
        },
        timeout: 60_000,
      });
    };

    /** The stream bundle's answer to one Kinesis event, and what it wrote to stderr. */
    const streamInInstance = async (records: KinesisStreamRecord[], flags?: string[]) => {
      const { stdout, stderr } = await inInstance(
        'stream',
        `require(${JSON.stringify(bundled('stream-handler'))}).handler(JSON.parse(process.argv[1])).then(
           (r) => process.stdout.write('RESULT ' + JSON.stringify(r) + String.fromCharCode(10), () => process.exit(0)),
           (e) => { console.error(e); process.exit(1); })`,
        [JSON.stringify({ Records: records } satisfies KinesisStreamEvent)],
        flags,
      );
      const result = JSON.parse(
        stdout.slice(stdout.lastIndexOf('RESULT ') + 7),
      ) as KinesisStreamBatchResponse;
      return { result, stderr };
    };

    const records = [
      ...penguins.slice(0, 20).map((row, i) => ({ id: `bundle-${i}`, data: event(`bundle-${i}`, row) })),
      { id: 'bundle-poison', data: '{"pipeline": "penguins", "id": ' },
    ].map(({ id, data }, i) => kinesisRecord(id, data, 5000 + i));
    const { result, stderr } = await streamInInstance(records);
    expect(stderr).not.toContain('code cache rejected');
    expect(result.batchItemFailures).toEqual([]);
    const got = await predictionsOf('bundle-');
    expect(got.map((p) => p.id).sort()).toEqual(
      penguins
        .slice(0, 20)
        .map((_, i) => `bundle-${i}`)
        .sort(),
    );
    expect(new Set(got.map((p) => p.modelVersion))).toEqual(new Set(['penguins-v1']));
    const failed = await failures();
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ reason: 'bad-json', source: { partitionKey: 'bundle-poison' } });

    // The HTTPS and batch entry points' bundles load with their own functions' settings and caches.
    for (const entry of ['http', 'batch'] as const) {
      const { stdout: loaded, stderr: warned } = await inInstance(
        entry,
        `require(${JSON.stringify(bundled(`${entry}-handler`))}); process.stdout.write('loaded')`,
      );
      expect({ entry, loaded, rejected: warned.includes('code cache rejected') }).toEqual({
        entry,
        loaded: 'loaded',
        rejected: false,
      });
    }

    // Started by the bootstrap's command line alone, --expose-gc and all, without start-node.sh, V8
    // refuses the cache: the function says so, compiles its bundle as without one, and still scores.
    const other = await streamInInstance(
      [kinesisRecord('bundle-other-flags', event('bundle-other-flags', penguins[0] ?? {}), 6000)],
      lambdaNodeFlags(2048),
    );
    expect(other.stderr).toContain('code cache rejected');
    expect(other.result).toEqual({ batchItemFailures: [] });
    expect((await predictionsOf('bundle-other-flags')).map((p) => p.id)).toEqual(['bundle-other-flags']);
  });

  it('primes its caches with the pipelines it can train a model of, and builds the image anyway when one cannot', async () => {
    const image = join(dataDir, 'image-one-class');
    await bundleInference({ outdir: image, target: THIS_NODE });
    const pipelines = mkdtempSync(join(dataDir, 'pipelines-'));
    writeFileSync(
      join(pipelines, 'penguins.yml'),
      readFileSync(join(__dirname, '../../../pipelines/penguins.yml'), 'utf8'),
    );
    // Its example rows hold one class only (score > 100 in a column of 0 to 10): no model trains.
    writeFileSync(
      join(pipelines, 'one-class.yml'),
      [
        'name: one-class',
        'input: { formats: [csv] }',
        'columns:',
        '  score: { type: integer, min: 0, max: 10 }',
        '  x: { type: number }',
        'target: { column: score, task: binary, positive: { gt: 100 } }',
        'split: { by: hash, train: 0.8, validation: 0.1, test: 0.1 }',
        'features:',
        '  - { name: x, from: x }',
        'trainer: { image: gbdt }',
        'gate: { metrics: { auc: { min: 0.5 } } }',
      ].join('\n'),
    );
    const made = makeCodeCaches(image, pipelines);
    expect(made).toMatch(
      /stream-handler\.bundle\.js: code cache made .*, after a priming run that scored 1 record\(s\), 0 failed, 1 written$/m,
    );
    expect(made).toMatch(
      /http-handler\.bundle\.js: code cache made .*, after a priming run that answered 200$/m,
    );
  });

  it('splits traffic to a challenger by a hash of each id, and promotes it mid-stream without a redeploy', async () => {
    const record = await writeDeployment(s3, ARTIFACTS, 'penguins', 'penguins-v1', {
      version: 'penguins-v2',
      weight: 0.5,
    });
    await new Promise((r) => setTimeout(r, RECORD_TTL_MS + 200));
    const before = penguins
      .slice(0, 200)
      .map((row, i) => ({ id: `canary-${i}`, data: event(`canary-${i}`, row) }));
    await put(before);
    const split = await predictionsOf('canary-');
    expect(split).toHaveLength(before.length);
    for (const p of split) {
      const variant = chooseVariant(record, p.id);
      expect(p).toMatchObject({
        variant,
        modelVersion: variant === 'challenger' ? 'penguins-v2' : 'penguins-v1',
      });
    }
    const challengerShare = split.filter((p) => p.variant === 'challenger').length / split.length;
    expect(challengerShare).toBeGreaterThan(0.35);
    expect(challengerShare).toBeLessThan(0.65);

    // Promotion: one write of the record; the stream serves v2 within the TTL.
    await writeDeployment(s3, ARTIFACTS, 'penguins', 'penguins-v2');
    await new Promise((r) => setTimeout(r, RECORD_TTL_MS + 200));
    const after = penguins
      .slice(0, 100)
      .map((row, i) => ({ id: `promoted-${i}`, data: event(`promoted-${i}`, row) }));
    await put(after);
    const promoted = await predictionsOf('promoted-');
    expect(promoted).toHaveLength(after.length);
    expect(new Set(promoted.map((p) => `${p.modelVersion}/${p.variant}`))).toEqual(
      new Set(['penguins-v2/champion']),
    );

    // What the canary alarm watches: the challenger's own series.
    const stats = await cloudwatch.send(
      new GetMetricStatisticsCommand({
        Namespace: CANARY_METRICS.namespace,
        MetricName: CANARY_METRICS.errorRate,
        Dimensions: [
          { Name: 'pipeline', Value: 'penguins' },
          { Name: 'variant', Value: 'challenger' },
        ],
        StartTime: new Date(Date.now() - 600_000),
        EndTime: new Date(Date.now() + 60_000),
        Period: 60,
        Statistics: ['Maximum', 'SampleCount'],
      }),
    );
    expect(stats.Datapoints?.length).toBeGreaterThan(0);
    expect(Math.max(...(stats.Datapoints ?? []).map((d) => d.Maximum ?? 1))).toBe(0);
  });

  it('writes each prediction once when Lambda retries a batch, whether from the failed record or whole', async () => {
    // v3 is deployed before its bundle reaches S3: its records must wait, not be lost or duplicated.
    await writeDeployment(s3, ARTIFACTS, 'penguins', 'penguins-v3');
    await new Promise((r) => setTimeout(r, RECORD_TTL_MS + 200));
    const records = penguins
      .slice(0, 30)
      .map((row, i) => kinesisRecord(`retry-${i}`, event(`retry-${i}`, row), 1000 + i));
    const invoke = async (batch: typeof records) => {
      const out = await lambda.send(
        new InvokeCommand({
          FunctionName: FUNCTION,
          Payload: Buffer.from(JSON.stringify({ Records: batch } satisfies KinesisStreamEvent)),
        }),
      );
      expect(out.FunctionError).toBeUndefined();
      return JSON.parse(Buffer.from(out.Payload ?? []).toString()) as KinesisStreamBatchResponse;
    };
    // The first attempt: nothing can be scored yet; the whole batch is reported from its first record.
    expect((await invoke(records)).batchItemFailures).toEqual([{ itemIdentifier: '1000' }]);
    expect(await predictionsOf('retry-')).toHaveLength(0);

    const v3 = await trainModel(join(dataDir, 'models'), 'penguins-v3', penguins, {
      ...PENGUIN_HYPERPARAMETERS,
      num_round: '30',
    });
    await s3.send(
      new PutObjectCommand({
        Bucket: ARTIFACTS,
        Key: modelKey('penguins', 'penguins-v3'),
        Body: readFileSync(v3),
      }),
    );
    // Lambda's retry from the reported record, then a whole-batch retry (as after a timeout).
    expect((await invoke(records)).batchItemFailures).toEqual([]);
    expect((await invoke(records)).batchItemFailures).toEqual([]);
    const got = await predictionsOf('retry-');
    expect(got).toHaveLength(records.length);
    expect([...countById(got).values()].every((n) => n === 1)).toBe(true);
  });

  /** A POST to the HTTPS entry point's function URL, signed with SigV4 as AWS_IAM auth requires. */
  const post = async (body: unknown, { sign = true } = {}) => {
    const url = new URL(functionUrlOf(cloud.lambda.url, 'mlpipe-local-infer-http'));
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const request = {
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      headers: { host: url.host, 'content-type': 'application/json' },
      body: text,
    };
    const signer = new SignatureV4({
      service: 'lambda',
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      sha256: Sha256,
    });
    const signed = sign ? await signer.sign(request) : request;
    const res = await fetch(url, {
      method: 'POST',
      headers: signed.headers as Record<string, string>,
      body: text,
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };

  it('answers a signed HTTPS request for one record, and for a batch in the order given', async () => {
    await writeDeployment(s3, ARTIFACTS, 'penguins', 'penguins-v1');
    await new Promise((r) => setTimeout(r, RECORD_TTL_MS + 200));
    const one = await post({ pipeline: 'penguins', id: 'h-1', ...penguins[0] });
    expect(one.status).toBe(200);
    expect(one.body.predictions).toEqual([
      expect.objectContaining({
        id: 'h-1',
        pipeline: 'penguins',
        modelVersion: 'penguins-v1',
        prediction: penguins[0]?.Species,
      }),
    ]);
    const rows = penguins.slice(0, 50);
    const batch = await post({
      pipeline: 'penguins',
      records: rows.map((row, i) => ({ id: `hb-${i}`, ...row })),
    });
    expect(batch.status).toBe(200);
    const predictions = batch.body.predictions as Prediction[];
    expect(predictions.map((p) => p.id)).toEqual(rows.map((_, i) => `hb-${i}`));
    // A record without an id gets one, and says which.
    const anonymous = await post([{ pipeline: 'penguins', ...penguins[1] }]);
    expect((anonymous.body.predictions as Prediction[])[0]?.id).toMatch(/^[0-9a-f-]{36}$/);
    // Invoked directly (`aws lambda invoke`), the payload is the body, answered alike.
    const direct = await lambda.send(
      new InvokeCommand({
        FunctionName: 'mlpipe-local-infer-http',
        Payload: JSON.stringify({ pipeline: 'penguins', id: 'h-direct', ...penguins[0] }),
      }),
    );
    const answer = JSON.parse(Buffer.from(direct.Payload ?? []).toString('utf8')) as {
      statusCode: number;
      body: string;
    };
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body).predictions).toEqual([
      expect.objectContaining({ id: 'h-direct', prediction: penguins[0]?.Species }),
    ]);
  });

  it('refuses bad input whole with 400 and a message per record and field, and unsigned requests with 403', async () => {
    const bad = await post({
      pipeline: 'penguins',
      records: [
        { id: 'ok', ...penguins[0] },
        { id: 'island', ...penguins[0], Island: 'Atlantis' },
        { id: 'mass', ...penguins[0], 'Body Mass (g)': -5 },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe('2 of 3 records are invalid; nothing was scored');
    expect(bad.body.errors).toEqual([
      expect.objectContaining({ index: 1, id: 'island', field: 'Island' }),
      expect.objectContaining({ index: 2, id: 'mass', field: 'Body Mass (g)' }),
    ]);
    expect((await post('{"pipeline": ')).body.message).toMatch(/^body: not JSON/);
    expect((await post({ pipeline: 'walruses', id: 'w' })).body).toMatchObject({
      errors: [expect.objectContaining({ field: 'pipeline', reason: expect.stringContaining('walruses') })],
    });
    const tooMany = await post(
      Array.from({ length: 1001 }, (_, i) => ({ pipeline: 'penguins', id: `m-${i}`, ...penguins[0] })),
    );
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.message).toContain('over the limit of 1000');
    expect((await post({ pipeline: 'penguins', id: 'u', ...penguins[0] }, { sign: false })).status).toBe(403);
  });

  const RAW = 'mlpipe-local-raw';
  const text = async (key: string) =>
    (await (await s3.send(new GetObjectCommand({ Bucket: RAW, Key: key }))).Body?.transformToString()) ?? '';

  it('scores a CSV dropped under batch-input into batch-output, every row accounted for by its number', async () => {
    await writeDeployment(s3, ARTIFACTS, 'penguins', 'penguins-v1');
    await new Promise((r) => setTimeout(r, RECORD_TTL_MS + 200));
    const columns = [
      'Species',
      'Island',
      'Beak Length (mm)',
      'Beak Depth (mm)',
      'Flipper Length (mm)',
      'Body Mass (g)',
      'Sex',
    ];
    // A column of the caller's own, which the spec does not know: it comes back to join on. A
    // missing value is NA, as R writes it, which the spec reads as missing (input.nullValues).
    const rows = penguins.map((r, i) => [
      `ring-${i}`,
      ...columns.map((c) => (r[c] === null || r[c] === undefined ? 'NA' : String(r[c]))),
    ]);
    expect(rows.filter((r) => r.includes('NA')).length).toBeGreaterThan(5);
    rows.splice(10, 0, ['ring-atlantis', 'Adelie', 'Atlantis', '39', '18', '181', '3750', 'MALE']);
    rows.splice(20, 0, ['ring-long', 'Adelie', 'Dream', 'long', '18', '181', '3750', 'MALE']);
    // A row cut short, of fewer fields than the header: an error row like the others.
    rows.splice(30, 0, ['ring-cut', 'Adelie', 'Dream']);
    const csv = [['ring', ...columns].map((c) => `"${c}"`).join(','), ...rows.map((r) => r.join(','))].join(
      '\n',
    );
    await s3.send(new PutObjectCommand({ Bucket: RAW, Key: 'batch-input/penguins/week 47.csv', Body: csv }));
    await cloud.settle();
    const report = JSON.parse(await text('batch-output/penguins/week 47.report.json')) as BatchReport;
    expect(report).toMatchObject({
      status: 'scored',
      modelVersion: 'penguins-v1',
      rowsIn: rows.length,
      rowsRejected: 3,
    });
    expect(report.rowsIn).toBe(report.rowsScored + report.rowsRejected);
    expect(report.errors).toEqual([
      expect.objectContaining({ row: 11, field: 'Island' }),
      expect.objectContaining({ row: 21, field: 'Beak Length (mm)' }),
      { row: 31, field: '(line)', reason: '3 fields, where the header has 8' },
    ]);
    const lines = (await text('batch-output/penguins/week 47.csv')).trim().split('\n');
    expect(lines).toHaveLength(report.rowsScored + 1);
    expect(lines[0]?.split(',')).toEqual([
      'input_row',
      'ring',
      ...columns,
      'prediction',
      'probability_Adelie',
      'probability_Chinstrap',
      'probability_Gentoo',
      'model_version',
    ]);
    const scored = lines.slice(1).map((l) => l.split(','));
    // Each scored row carries its number in the input and the caller's own key from that row.
    for (const cells of scored) expect(cells[1]).toBe(rows[Number(cells[0]) - 1]?.[0]);
    // The rows sent with NA are scored, their missing values empty, as cleaned values are.
    const scoredRows = new Map(scored.map((cells) => [Number(cells[0]), cells]));
    const sentWithNa = rows.flatMap((r, i) => (r.includes('NA') ? [i + 1] : []));
    expect(sentWithNa.map((n) => scoredRows.get(n)?.includes('NA'))).toEqual(sentWithNa.map(() => false));
    const errors = (await text('batch-output/penguins/week 47.errors.jsonl')).trim().split('\n');
    const rejected = errors.map((l) => (JSON.parse(l) as { row: number }).row);
    expect(rejected).toEqual([11, 21, 31]);
    // Every input row is in exactly one of the two files.
    expect([...scored.map((cells) => Number(cells[0])), ...rejected].sort((a, b) => a - b)).toEqual(
      rows.map((_, i) => i + 1),
    );
  });

  it('scores every row of a CSV whose row of another width comes past the rows the sniffer samples, that row an error row', async () => {
    await writeDeployment(s3, ARTIFACTS, 'penguins', 'penguins-v1');
    await new Promise((r) => setTimeout(r, RECORD_TTL_MS + 200));
    const header = 'Species,Island,Beak Length (mm),Beak Depth (mm),Flipper Length (mm),Body Mass (g),Sex';
    const rows = Array.from({ length: 25_000 }, () => 'Adelie,Torgersen,39.1,18.7,181,3750,MALE');
    rows.splice(24_000, 0, 'Adelie,Torgersen');
    await s3.send(
      new PutObjectCommand({
        Bucket: RAW,
        Key: 'batch-input/penguins/cut.csv',
        Body: `${[header, ...rows].join('\n')}\n`,
      }),
    );
    await cloud.settle();
    const report = JSON.parse(await text('batch-output/penguins/cut.report.json')) as BatchReport;
    expect(report).toMatchObject({ status: 'scored', rowsIn: 25_001, rowsScored: 25_000, rowsRejected: 1 });
    expect(report.errors).toEqual([
      { row: 24_001, field: '(line)', reason: '2 fields, where the header has 7' },
    ]);
    const lines = (await text('batch-output/penguins/cut.csv')).trim().split('\n');
    expect(lines).toHaveLength(25_001);
  });

  it('answers Parquet in kind, giving the columns it passes through their types back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-batch-parquet-'));
    const input = join(dir, 'input.parquet');
    // A key, a date and a note of the caller's own beside the spec's columns, typed as Parquet
    // keeps them; the note is text that looks like a date, and stays text.
    const rows = penguins.slice(0, 30).map((r, i) => {
      const day = `2024-06-${String((i % 28) + 1).padStart(2, '0')}`;
      return { ...r, ring: 9000 + i, seen: day, note: day, constructor: `c${i}` };
    });
    const json = join(dir, 'rows.json');
    writeFileSync(json, JSON.stringify(rows));
    await runSql([
      `COPY (SELECT * REPLACE (CAST(ring AS BIGINT) AS ring, CAST(seen AS DATE) AS seen, CAST(note AS VARCHAR) AS note) FROM read_json_auto('${json}')) TO '${input}' (FORMAT parquet)`,
    ]);
    await s3.send(
      new PutObjectCommand({
        Bucket: RAW,
        Key: 'batch-input/penguins/tagged.parquet',
        Body: readFileSync(input),
      }),
    );
    await cloud.settle();
    const output = join(dir, 'output.parquet');
    const got = await s3.send(
      new GetObjectCommand({ Bucket: RAW, Key: 'batch-output/penguins/tagged.parquet' }),
    );
    writeFileSync(
      output,
      await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
    const types = await runSql([`DESCRIBE SELECT * FROM read_parquet('${output}')`]);
    expect(Object.fromEntries(types.map((t) => [t.column_name, t.column_type]))).toMatchObject({
      input_row: 'BIGINT',
      ring: 'BIGINT',
      seen: 'DATE',
      note: 'VARCHAR',
      constructor: 'VARCHAR',
      Island: 'VARCHAR',
      prediction: 'VARCHAR',
    });
    const scored = await runSql([
      `SELECT input_row, ring, CAST(seen AS VARCHAR) AS seen, "constructor" FROM read_parquet('${output}') ORDER BY input_row`,
    ]);
    expect(scored).toHaveLength(30);
    expect(scored.map((r) => [Number(r.input_row), Number(r.ring), r.seen, r.constructor])).toEqual(
      rows.map((r, i) => [i + 1, r.ring, r.seen, r.constructor]),
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers gzip JSON Lines in kind, and reports a file it cannot score as rejected with the reason', async () => {
    const jsonl = penguins
      .slice(0, 40)
      .map((r) => JSON.stringify(r))
      .join('\n');
    // A torn line is one error row; the lines around it are scored. The file is saved as Windows
    // tools save it, with a byte order mark and \r\n.
    const day = `\ufeff${jsonl}\n{"Island": "Dream", "Sex"\n${JSON.stringify(penguins[0])}`;
    await s3.send(
      new PutObjectCommand({
        Bucket: RAW,
        Key: 'batch-input/penguins/day.jsonl.gz',
        Body: gzipSync(day.replace(/\n/g, '\r\n')),
      }),
    );
    await s3.send(new PutObjectCommand({ Bucket: RAW, Key: 'batch-input/walruses/day.jsonl', Body: jsonl }));
    // A hand-edited JSON array, a comma left after its last object.
    await s3.send(
      new PutObjectCommand({
        Bucket: RAW,
        Key: 'batch-input/penguins/edited.json',
        Body: '[{"Island": "Dream", "Sex": "MALE"},]',
      }),
    );
    // A quote that never closes: DuckDB cannot read it, now or on any retry.
    await s3.send(
      new PutObjectCommand({
        Bucket: RAW,
        Key: 'batch-input/penguins/torn.csv',
        Body: 'Island,Sex\n"Dream,MALE\n',
      }),
    );
    await cloud.settle();
    const scored = (await text('batch-output/penguins/day.jsonl'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(scored).toHaveLength(41);
    expect(scored.filter((r, i) => r.prediction === penguins[i]?.Species).length).toBeGreaterThan(36);
    const dayReport = JSON.parse(await text('batch-output/penguins/day.report.json')) as BatchReport;
    expect(dayReport).toMatchObject({ rowsIn: 42, rowsScored: 41, rowsRejected: 1 });
    expect(dayReport.errors).toEqual([{ row: 41, field: '(line)', reason: 'not valid JSON' }]);
    const refused = JSON.parse(await text('batch-output/walruses/day.report.json')) as BatchReport;
    expect(refused).toMatchObject({ status: 'rejected', rowsIn: 0 });
    expect(refused.reason).toContain('"walruses" has no spec');
    const unreadable = JSON.parse(await text('batch-output/penguins/torn.report.json')) as BatchReport;
    expect(unreadable).toMatchObject({ status: 'rejected', rowsScored: 0 });
    expect(unreadable.reason).toMatch(/^cannot be read as torn\.csv: /);
    // Named as the object, not as the scratch copy DuckDB read.
    const edited = JSON.parse(await text('batch-output/penguins/edited.report.json')) as BatchReport;
    expect(edited).toMatchObject({ status: 'rejected', rowsScored: 0 });
    expect(edited.reason).toMatch(
      /^cannot be read as edited\.json: Malformed JSON in file "edited\.json", at byte \d+/,
    );
  });
});
