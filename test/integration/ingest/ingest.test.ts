import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  type IngestReport,
  type IngestSource,
  ingestId,
  timeBoundaries,
  timeSplit,
} from '../../../core/ingest';
import { loadSpecFile } from '../../../core/spec/load';
import { claimKey } from '../../../functions/ingest/claim';
import { type IngestLog, type IngestOutcome, ingestObject } from '../../../functions/ingest/ingest';
import { RANGE_BYTES } from '../../../functions/shared/s3';
import { type LocalCloud, startLocalCloud } from '../../../local/cloud';
import { localClientConfig, localS3Config } from '../../../local/types';
import { datasetPath, jsonDataset } from '../../support/datasets';

/** penguins' CSV header, and a row of it that passes. */
const PENGUINS_HEADER =
  'Species,Island,Beak Length (mm),Beak Depth (mm),Flipper Length (mm),Body Mass (g),Sex';
const ADELIE_ROW = 'Adelie,Torgersen,39.1,18.7,181,3750,MALE';
const RAW = 'mlpipe-local-raw';
const CURATED = 'mlpipe-local-curated';
const ARTIFACTS = 'mlpipe-local-artifacts';

describe('ingest, triggered by a drop into the raw bucket of the local cloud', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-ingest-'));
  /** The scratch folder of ingests called directly: each removes its own files, whatever its outcome. */
  const scratchDir = join(dataDir, 'scratch');
  mkdirSync(scratchDir);
  let cloud: LocalCloud;
  let s3: S3Client;
  let sfn: SFNClient;
  beforeAll(async () => {
    cloud = await startLocalCloud({ dataDir, port: 0 });
    s3 = new S3Client(localS3Config(cloud.s3.url));
    sfn = new SFNClient(localClientConfig(cloud.sfn.url));
  });
  afterAll(async () => {
    s3.destroy();
    sfn.destroy();
    await cloud.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const keys = async (bucket: string, prefix: string) =>
    ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map(
      (o) => o.Key as string,
    );
  const text = async (bucket: string, key: string) =>
    (await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString()) ??
    '';

  /** Drops a file and returns the one report written for it. */
  const drop = async (pipeline: string, name: string, body: Uint8Array | string): Promise<IngestReport> => {
    const key = `incoming/${pipeline}/${name}`;
    await s3.send(new PutObjectCommand({ Bucket: RAW, Key: key, Body: Buffer.from(body) }));
    await cloud.settle();
    const reports: IngestReport[] = [];
    for (const k of await keys(ARTIFACTS, `reports/ingest/${pipeline}/`)) {
      const report = JSON.parse(await text(ARTIFACTS, k)) as IngestReport;
      if (report.source.key === key) reports.push(report);
    }
    expect(reports).toHaveLength(1);
    return reports[0] as IngestReport;
  };

  const curatedRows = async (report: IngestReport, split: string) => {
    const rows: Record<string, unknown>[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-curated-'));
    try {
      for (const key of await keys(
        CURATED,
        `curated/${report.pipeline}/ingest=${report.ingestId}/split=${split}/`,
      )) {
        const file = join(dir, key.replace(/\//g, '_'));
        const got = await s3.send(new GetObjectCommand({ Bucket: CURATED, Key: key }));
        writeFileSync(
          file,
          await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
        );
        const db = await DuckDBInstance.create(':memory:');
        const c = await db.connect();
        const read = (await c.runAndReadAll(`SELECT * FROM read_parquet('${file}')`)).getRowObjectsJS();
        for (const row of read) rows.push(row as Record<string, unknown>);
        c.closeSync();
        db.closeSync();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return rows;
  };

  /**
   * The ingest function's core called directly on an object of a bucket without notifications (so
   * only this call ingests it), as one attempt of a delivery.
   */
  const NO_NOTIFICATIONS = 'mlpipe-test-direct';
  const putDirect = async (key: string, body: string | Uint8Array) => {
    await s3.send(new CreateBucketCommand({ Bucket: NO_NOTIFICATIONS })).catch(() => {});
    const put = await s3.send(new PutObjectCommand({ Bucket: NO_NOTIFICATIONS, Key: key, Body: body }));
    return { bucket: NO_NOTIFICATIONS, key, etag: (put.ETag ?? '').replace(/"/g, '') };
  };
  const ingestDirectly = (
    source: IngestSource,
    {
      pipelinesDir = 'pipelines',
      log = { info: () => {}, warn: () => {}, error: () => {} },
      ...attempt
    }: { pipelinesDir?: string; log?: IngestLog; attempt?: string; remainingMs?: number } = {},
  ) =>
    ingestObject(source, {
      s3,
      sfn,
      log,
      settings: {
        rawBucket: NO_NOTIFICATIONS,
        curatedBucket: CURATED,
        artifactsBucket: ARTIFACTS,
        trainingStateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:mlpipe-test-none',
        pipelinesDir,
        scratchDir,
        maxFileBytes: 2 ** 24,
        maxLineBytes: 2 ** 16,
      },
      ...attempt,
    });
  /** A pipelines folder holding only the spec `yml` of pipeline `name`, for the length of `use`. */
  const withPipeline = async (name: string, yml: string, use: (pipelinesDir: string) => Promise<void>) => {
    const pipelinesDir = mkdtempSync(join(tmpdir(), 'mlpipe-pipelines-'));
    try {
      writeFileSync(join(pipelinesDir, `${name}.yml`), yml);
      await use(pipelinesDir);
    } finally {
      rmSync(pipelinesDir, { recursive: true, force: true });
    }
  };
  /** The curated rows of every split, train first. */
  const everyCuratedRow = async (report: IngestReport) => [
    ...(await curatedRows(report, 'train')),
    ...(await curatedRows(report, 'validation')),
    ...(await curatedRows(report, 'test')),
  ];
  const ingested = (outcome: IngestOutcome) => {
    if (outcome.state === 'in-progress') throw new Error(`held by ${outcome.heldBy}`);
    return outcome.report;
  };

  /** The two bad penguins the row tests plant: an unknown species and a body mass that is a word. */
  const expectDodoAndLots = (report: IngestReport, at: { rowsIn: number; dodo: number; lots: number }) => {
    expect(report.status).toBe('curated');
    expect(report.rowsIn).toBe(at.rowsIn);
    expect(report.rowsQuarantined).toBe(2);
    expect(report.errors).toEqual([
      { row: at.dodo, field: 'Species', reason: '"Dodo" is not one of Adelie, Chinstrap, Gentoo' },
      { row: at.lots, field: 'Body Mass (g)', reason: '"lots" is not a number' },
    ]);
  };

  it('curates every row of penguins.json into train, validation and test Parquet, and reports counts that add up', async () => {
    const report = await drop('penguins', 'penguins.json', readFileSync(datasetPath('penguins.json')));
    expect(report.status).toBe('curated');
    expect(report.rowsIn).toBe(jsonDataset('penguins.json').length);
    const { train, validation, test } = report.rowsCurated;
    expect(train + validation + test + report.rowsQuarantined).toBe(report.rowsIn);
    expect(train).toBeGreaterThan(validation);
    const trainRows = await curatedRows(report, 'train');
    expect(trainRows).toHaveLength(train);
    expect(await curatedRows(report, 'test')).toHaveLength(test);
    // Column names as Athena accepts them, values typed by the spec.
    expect(Object.keys(trainRows[0] ?? {})).toEqual(
      expect.arrayContaining(['species', 'island', 'beak_length_mm', 'body_mass_g', 'sex']),
    );
    expect(typeof trainRows.find((r) => r.body_mass_g !== null)?.body_mass_g).toBe('number');
  });

  it('splits flights by time, every train flight before every validation flight before every test one', async () => {
    const spec = loadSpecFile('pipelines/flights.yml');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    // 2,000 flights in a shuffled order, so a split by position could not pass.
    const rows = (
      await c.runAndReadAll(
        `SELECT strftime(date, '%Y-%m-%d %H:%M:%S') AS date, delay, distance, origin, destination FROM read_parquet('${datasetPath('flights-3m.parquet')}') USING SAMPLE 2000 ROWS (reservoir, 7)`,
      )
    ).getRowObjectsJS() as Record<string, unknown>[];
    c.closeSync();
    db.closeSync();
    const csv = [
      'date,delay,distance,origin,destination',
      ...rows.map((r) => Object.values(r).join(',')),
    ].join('\n');
    const report = await drop('flights', 'sample.csv', csv);
    expect(report.status).toBe('curated');
    // The same boundaries as the in-memory definition (timeBoundaries) on the same times.
    const times = Float64Array.from(rows.map((r) => Date.parse(`${String(r.date).replace(' ', 'T')}Z`)));
    const bounds = timeBoundaries(spec, times);
    const expected = { train: 0, validation: 0, test: 0 };
    for (const t of times) expected[timeSplit(t, bounds)] += 1;
    expect(report.rowsCurated).toEqual(expected);
    const range = async (split: string) => {
      const dates = (await curatedRows(report, split)).map((r) => new Date(String(r.date)).getTime());
      return { min: Math.min(...dates), max: Math.max(...dates), n: dates.length };
    };
    const [train, validation, test] = [await range('train'), await range('validation'), await range('test')];
    expect(train.n + validation.n + test.n).toBe(rows.length);
    expect(train.max).toBeLessThanOrEqual(validation.min);
    expect(validation.max).toBeLessThanOrEqual(test.min);
  });

  it('splits all of flights-3m in time order exactly, most of it written once, with a bad row quarantined and a row only rowValidator cleans in its split', async () => {
    const { split: fractions } = loadSpecFile('pipelines/flights.yml');
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-flights-'));
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const one = async <T>(sql: string) => (await c.runAndReadAll(sql)).getRowObjectsJS()[0] as T;
    try {
      // In time order. Data row 100,000 is late in words; row 2,650,000 has its distance between
      // no-break spaces, which only rowValidator trims.
      const source = join(dir, 'flights.csv');
      const flights = `SELECT *, row_number() OVER (ORDER BY date, delay, distance, origin, destination) AS n FROM read_parquet('${datasetPath('flights-3m.parquet')}')`;
      await c.run(
        `COPY (SELECT strftime(date, '%Y-%m-%d %H:%M:%S') AS date, CASE WHEN n = 100000 THEN 'late' ELSE CAST(delay AS VARCHAR) END AS delay, CASE WHEN n = 2650000 THEN chr(160) || CAST(distance AS VARCHAR) || chr(160) ELSE CAST(distance AS VARCHAR) END AS distance, origin, destination FROM (${flights}) ORDER BY n) TO '${source}' (FORMAT csv, HEADER true)`,
      );
      // The boundaries by their definition: the time at rank ceil(fraction x rows) among the good rows.
      const good = `SELECT epoch_ms(date)::DOUBLE AS t FROM (${flights}) WHERE n <> 100000`;
      const { rows } = await one<{ rows: number }>(`SELECT count(*)::INTEGER AS rows FROM (${good})`);
      const at = async (fraction: number) =>
        (
          await one<{ t: number }>(
            `SELECT t FROM (${good}) ORDER BY t LIMIT 1 OFFSET ${Math.ceil(fraction * rows) - 1}`,
          )
        ).t;
      const bounds = {
        trainEnd: await at(fractions.train),
        validationEnd: await at(fractions.train + fractions.validation),
      };
      const expected = await one<{ train: number; validation: number; test: number }>(
        `SELECT count(*) FILTER (WHERE t <= ${bounds.trainEnd})::INTEGER AS train, count(*) FILTER (WHERE t > ${bounds.trainEnd} AND t <= ${bounds.validationEnd})::INTEGER AS validation, count(*) FILTER (WHERE t > ${bounds.validationEnd})::INTEGER AS test FROM (${good})`,
      );

      const report = await drop('flights', 'all.csv', readFileSync(source));
      expect(report.status).toBe('curated');
      expect(report.rowsIn).toBe(3_000_000);
      expect(report.errors.map(({ row, field }) => ({ row, field }))).toEqual([
        { row: 100_000, field: 'delay' },
      ]);
      expect(report.rowsCurated).toEqual(expected);

      const split = async (name: string) => {
        const parts = await keys(CURATED, `curated/flights/ingest=${report.ingestId}/split=${name}/`);
        const files = await Promise.all(
          parts.map(async (key, i) => {
            const file = join(dir, `${name}-${i}.parquet`);
            const got = await s3.send(new GetObjectCommand({ Bucket: CURATED, Key: key }));
            writeFileSync(
              file,
              await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
            );
            return `'${file}'`;
          }),
        );
        const found = await one<{ n: number; first: number; last: number }>(
          `SELECT count(*)::INTEGER AS n, epoch_ms(min(date))::DOUBLE AS first, epoch_ms(max(date))::DOUBLE AS last FROM read_parquet([${files.join(', ')}])`,
        );
        return { parts: parts.length, ...found };
      };
      const [train, validation, test] = [
        await split('train'),
        await split('validation'),
        await split('test'),
      ];
      expect([train.n, validation.n, test.n]).toEqual([expected.train, expected.validation, expected.test]);
      expect(train.last).toBeLessThanOrEqual(bounds.trainEnd);
      expect(validation.first).toBeGreaterThan(bounds.trainEnd);
      expect(validation.last).toBeLessThanOrEqual(bounds.validationEnd);
      expect(test.first).toBeGreaterThan(bounds.validationEnd);
      // Staged files wholly in train were curated as they stand, beside what was written again.
      expect(train.parts).toBeGreaterThan(1);
    } finally {
      c.closeSync();
      db.closeSync();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Where the time may be empty, a staged file's times are read by a scan: failing rows are marked
  // by another required column, or (every column nullable) by a column of their own.
  it.each([
    ['x is required', ''],
    ['every column may be empty', ', nullable: true'],
  ])(
    "curates a file whose time column may be empty, where %s, with only the spec's columns in the curated data",
    async (_, xNullable) => {
      const spec = `name: loose
columns:
  t: { type: timestamp, nullable: true }
  x: { type: number${xNullable} }
  y: { type: number, nullable: true }
target: { column: y, task: regression }
split: { by: time, column: t, train: 0.5, validation: 0.25, test: 0.25 }
features: [{ name: x, from: x }]
input: { maxRejectRate: 0.5 }
`;
      await withPipeline('loose', spec, async (pipelinesDir) => {
        const body = [
          't,x,y',
          '2001-01-06 00:00:00,6,1',
          '2001-01-01 00:00:00,1,1',
          '2001-01-03 00:00:00,abc,1',
          ',7,1',
          '2001-01-02 00:00:00,2,1',
          '2001-01-04 00:00:00,4,',
          '2001-01-05 00:00:00,5,1',
          '2001-01-03 00:00:00,3,1',
        ].join('\n');
        const report = ingested(
          await ingestDirectly(await putDirect('incoming/loose/loose.csv', body), { pipelinesDir }),
        );
        expect(report.rowsIn).toBe(8);
        expect(report.errors).toEqual([{ row: 3, field: 'x', reason: '"abc" is not a number' }]);
        // Six times and one row without a time, ranked last.
        expect(report.rowsCurated).toEqual({ train: 4, validation: 2, test: 1 });
        const rows = await everyCuratedRow(report);
        expect(rows.map((r) => Object.keys(r))).toEqual(rows.map(() => ['t', 'x', 'y']));
        expect(rows.map((r) => r.x).sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
      });
    },
  );

  describe('one attempt at a time per object version', () => {
    const penguinsCsv = () => {
      const rows = jsonDataset('penguins.json');
      const columns = Object.keys(rows[0] ?? {});
      return [columns.join(','), ...rows.map((r) => columns.map((c) => r[c] ?? '').join(','))].join('\n');
    };
    /** Every curated row of a report, counted from the parts under its prefix. */
    const curatedCount = async (report: IngestReport) =>
      (await curatedRows(report, 'train')).length +
      (await curatedRows(report, 'validation')).length +
      (await curatedRows(report, 'test')).length;
    const strayPart = async (source: IngestSource) => {
      const id = ingestId('penguins', source);
      await s3.send(
        new PutObjectCommand({
          Bucket: CURATED,
          Key: `curated/penguins/ingest=${id}/split=train/part-99999.parquet`,
          Body: 'left by a stopped attempt, not Parquet',
        }),
      );
      return id;
    };
    const claimOf = (source: IngestSource, attempt: string, expiresAt: number) =>
      s3.send(
        new PutObjectCommand({
          Bucket: ARTIFACTS,
          Key: claimKey('penguins', ingestId('penguins', source)),
          Body: JSON.stringify({ attempt, expiresAt: new Date(expiresAt).toISOString() }),
        }),
      );

    it('curates once when two deliveries of an event run at once: the other finds it in progress', async () => {
      const source = await putDirect('incoming/penguins/twice.csv', penguinsCsv());
      const outcomes = await Promise.all([
        ingestDirectly(source, { attempt: 'delivery-1' }),
        ingestDirectly(source, { attempt: 'delivery-2' }),
      ]);
      expect(outcomes.map((o) => o.state).sort()).toEqual(['in-progress', 'ingested']);
      // The delivery turned away stopped the download it had begun and removed it.
      expect(readdirSync(scratchDir)).toEqual([]);
      const report = ingested(outcomes.find((o) => o.state === 'ingested') as IngestOutcome);
      expect(await curatedCount(report)).toBe(report.rowsIn - report.rowsQuarantined);
      // The claim is released with the report: a later delivery finds the report.
      expect(await keys(ARTIFACTS, 'claims/ingest/penguins/')).toEqual([]);
      const later = await ingestDirectly(source, { attempt: 'delivery-3' });
      expect(later.state).toBe('repeated');
      expect(readdirSync(scratchDir)).toEqual([]);
    });

    it("lets an attempt's own retry take up its claim, and curates without what the stopped attempt left", async () => {
      const source = await putDirect('incoming/penguins/retried.csv', penguinsCsv());
      const id = await strayPart(source);
      await claimOf(source, 'request-1', Date.now() + 60_000);
      const other = await ingestDirectly(source, { attempt: 'request-2' });
      expect(other).toEqual({ state: 'in-progress', ingestId: id, heldBy: 'request-1' });
      const retry = ingested(await ingestDirectly(source, { attempt: 'request-1' }));
      expect(retry.status).toBe('curated');
      expect(await keys(CURATED, `curated/penguins/ingest=${id}/split=train/part-99999`)).toEqual([]);
      expect(await curatedCount(retry)).toBe(retry.rowsIn - retry.rowsQuarantined);
    });

    it('throws a failed upload only when no other upload is in flight, and its retry curates in full', async () => {
      const source = await putDirect('incoming/penguins/torn-upload.csv', penguinsCsv());
      const finished: string[] = [];
      const flaky = new S3Client(localS3Config(cloud.s3.url));
      flaky.middlewareStack.add(
        (next) => async (args) => {
          const key = String((args.input as { Key?: string }).Key);
          if (!key.includes('/split=')) return next(args);
          if (key.includes('/split=test/')) throw Object.assign(new Error('slow down'), { name: 'SlowDown' });
          await new Promise((resolve) => setTimeout(resolve, 300));
          const result = await next(args);
          finished.push(key);
          return result;
        },
        { step: 'initialize' },
      );
      const first = ingestObject(source, {
        s3: flaky,
        sfn,
        log: { info: () => {}, warn: () => {}, error: () => {} },
        attempt: 'torn',
        settings: {
          rawBucket: NO_NOTIFICATIONS,
          curatedBucket: CURATED,
          artifactsBucket: ARTIFACTS,
          trainingStateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:mlpipe-test-none',
          pipelinesDir: 'pipelines',
          scratchDir: tmpdir(),
          maxFileBytes: 2 ** 24,
          maxLineBytes: 2 ** 16,
        },
      });
      await expect(first).rejects.toThrow('slow down');
      flaky.destroy();
      // The train and validation parts were written before the failure was thrown, not after.
      expect(finished.map((k) => k.replace(/^.*split=/, ''))).toEqual(
        expect.arrayContaining(['train/part-00000.parquet', 'validation/part-00000.parquet']),
      );
      const retry = ingested(await ingestDirectly(source, { attempt: 'torn' }));
      expect(await curatedCount(retry)).toBe(retry.rowsIn - retry.rowsQuarantined);
    });

    it.each([
      [
        'whose attempt ran out of time',
        'stale.csv',
        JSON.stringify({ attempt: 'timed-out', expiresAt: new Date(Date.now() - 1).toISOString() }),
      ],
      ['that cannot be read as one', 'garbled.csv', 'half a claim {"attempt'],
    ])('takes over a claim %s', async (_what, name, claim) => {
      const source = await putDirect(`incoming/penguins/${name}`, penguinsCsv());
      const id = await strayPart(source);
      await s3.send(new PutObjectCommand({ Bucket: ARTIFACTS, Key: claimKey('penguins', id), Body: claim }));
      const report = ingested(await ingestDirectly(source, { attempt: 'next-delivery' }));
      expect(report.ingestId).toBe(id);
      expect(await keys(CURATED, `curated/penguins/ingest=${id}/split=train/part-99999`)).toEqual([]);
      expect(await curatedCount(report)).toBe(report.rowsIn - report.rowsQuarantined);
    });
  });

  it('curates nothing again for a repeated event of the same object version', async () => {
    const body = readFileSync(datasetPath('penguins.json'));
    const first = await drop('penguins', 'again.json', body);
    const before = await keys(CURATED, `curated/penguins/ingest=${first.ingestId}/`);
    await s3.send(new PutObjectCommand({ Bucket: RAW, Key: 'incoming/penguins/again.json', Body: body }));
    await cloud.settle();
    expect(await keys(CURATED, `curated/penguins/ingest=${first.ingestId}/`)).toEqual(before);
    expect(await keys(ARTIFACTS, `reports/ingest/penguins/${first.ingestId}`)).toHaveLength(1);
    expect(await keys(ARTIFACTS, `claims/ingest/penguins/${first.ingestId}`)).toEqual([]);
  });

  it('keeps a row in its split when the same rows arrive again in another file and format', async () => {
    const rows = jsonDataset('penguins.json').slice(0, 60);
    const asJsonl = await drop('penguins', 'part.jsonl', rows.map((r) => JSON.stringify(r)).join('\n'));
    const asGzip = await drop(
      'penguins',
      'part.jsonl.gz',
      gzipSync(rows.map((r) => JSON.stringify(r)).join('\n')),
    );
    expect(asGzip.rowsCurated).toEqual(asJsonl.rowsCurated);
    expect(asJsonl.rowsIn).toBe(60);
  });

  it('quarantines bad rows with their row number, field and reason, and curates the rest', async () => {
    const lines = [
      PENGUINS_HEADER,
      ...Array.from({ length: 98 }, () => ADELIE_ROW),
      'Dodo,Torgersen,39.1,18.7,181,3750,MALE',
      'Adelie,Torgersen,39.1,18.7,181,lots,MALE',
    ];
    const report = await drop('penguins', 'mixed.csv', `${lines.join('\n')}\n`);
    expectDodoAndLots(report, { rowsIn: 100, dodo: 99, lots: 100 });
    const quarantined = (await text(RAW, `quarantine/penguins/${report.ingestId}/rows.jsonl`))
      .trim()
      .split('\n');
    expect(quarantined.map((l) => (JSON.parse(l) as { row: number }).row)).toEqual([99, 100]);
  });

  it('quarantines a CSV row of more or fewer fields than its header (a stray delimiter, a cut-off last line) as a bad row, and curates the rest', async () => {
    const lines = [
      PENGUINS_HEADER,
      ...Array.from({ length: 50 }, () => ADELIE_ROW),
      'Adelie,Torgersen,39.1,18.7,181,3750,MALE,',
      ...Array.from({ length: 47 }, () => ADELIE_ROW),
      // The upload was cut off mid-row: no newline at the end either.
      'Adelie,Torg',
    ];
    const report = await drop('penguins', 'cut-off.csv', lines.join('\n'));
    expect(report).toMatchObject({ status: 'curated', rowsIn: 99, rowsQuarantined: 2 });
    expect(report.errors).toEqual([
      { row: 51, field: '(line)', reason: "more fields than the header's 7" },
      { row: 99, field: '(line)', reason: '2 fields, where the header has 7' },
    ]);
    expect(await everyCuratedRow(report)).toHaveLength(97);
  });

  it('finds a row of another width past the rows the sniffer samples, and rejects a file with a quote never closed or two kinds of line ending, naming the lines', async () => {
    const rows = Array.from({ length: 30_000 }, () => 'Adelie,Torgersen,39.1,18.7,181,3750,MALE');
    const deep = `${[PENGUINS_HEADER, ...rows, 'Adelie,Torgersen', ...rows].join('\n')}\n`;
    const report = ingested(await ingestDirectly(await putDirect('incoming/penguins/deep.csv', deep)));
    expect(report).toMatchObject({ status: 'curated', rowsIn: 60_001, rowsQuarantined: 1 });
    expect(report.errors).toEqual([
      { row: 30_001, field: '(line)', reason: '2 fields, where the header has 7' },
    ]);
    const unclosed = [
      PENGUINS_HEADER,
      ...rows.slice(0, 100),
      'Adelie,"Torgersen,39.1,18.7,181,3750,MALE',
      ...rows.slice(0, 100),
    ];
    const rejected = ingested(
      await ingestDirectly(await putDirect('incoming/penguins/unclosed.csv', `${unclosed.join('\n')}\n`)),
    );
    expect(rejected).toMatchObject({ status: 'rejected', rowsIn: 0 });
    expect(rejected.rejection).toContain('unclosed.csv: line 102: Value with unterminated quote found');
    // A header saved on Windows, rows added on Linux.
    const mixed = `${PENGUINS_HEADER}\r\n${rows.slice(0, 100).join('\n')}\n`;
    const twoEndings = ingested(await ingestDirectly(await putDirect('incoming/penguins/mixed.csv', mixed)));
    expect(twoEndings.rejection).toBe(
      'cannot be read as mixed.csv: line 1 ends in \\r\\n and line 2 in \\n: save the file with one kind of line ending',
    );
  });

  it('rejects a JSON array that does not parse, naming the object rather than the copy it read', async () => {
    // A hand-edited array: a comma left after its last object.
    const body = '[{"Species": "Adelie", "Island": "Dream", "Sex": "MALE"},]';
    const report = ingested(await ingestDirectly(await putDirect('incoming/penguins/edited.json', body)));
    expect(report).toMatchObject({ status: 'rejected', rowsIn: 0 });
    expect(report.rejection).toMatch(
      /^cannot be read as edited\.json: Malformed JSON in file "edited\.json", at byte \d+/,
    );
    expect(report.rejection).not.toContain(scratchDir);
  });

  it('reads a CSV file with Windows line endings row for row', async () => {
    const rows = [
      ...Array.from({ length: 98 }, () => ADELIE_ROW),
      'Dodo,Torgersen,39.1,18.7,181,3750,MALE',
      'Adelie,Torgersen,39.1,18.7,181,lots,MALE',
    ];
    const report = await drop('penguins', 'windows.csv', `${[PENGUINS_HEADER, ...rows].join('\r\n')}\r\n`);
    expectDodoAndLots(report, { rowsIn: 100, dodo: 99, lots: 100 });
    const curated = await everyCuratedRow(report);
    expect(curated).toHaveLength(98);
    // The last column would hold a "\r" were the line endings misread.
    expect(curated.every((row) => row.sex === 'MALE')).toBe(true);
  });

  it('curates a time with a zone at its instant, whatever the zone of the process: Parquet TIMESTAMP WITH TIME ZONE and a CSV offset', async () => {
    // Called in this process, which jest.config.js runs half an hour off UTC, as a laptop may be (the
    // local cloud runs a function in UTC, as Lambda does).
    expect(new Date(2001, 0, 5).getTimezoneOffset()).not.toBe(0);
    const expected = Array.from({ length: 20 }, (_, i) => Date.UTC(2001, 0, 5, 8, i));
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-zoned-'));
    try {
      const parquet = join(dir, 'zoned.parquet');
      const db = await DuckDBInstance.create(':memory:');
      const c = await db.connect();
      await c.run(
        `COPY (SELECT TIMESTAMPTZ '2001-01-05 10:00:00+02' + to_minutes(i) AS date, 5 AS delay, 300 AS distance, 'SFO' AS origin, 'LAX' AS destination FROM range(20) t(i)) TO '${parquet}' (FORMAT parquet)`,
      );
      c.closeSync();
      db.closeSync();
      const csv = [
        'date,delay,distance,origin,destination',
        ...expected.map((_, i) => `2001-01-05T10:${String(i).padStart(2, '0')}:00+02:00,5,300,SFO,LAX`),
      ];
      for (const report of [
        ingested(
          await ingestDirectly(await putDirect('incoming/flights/zoned.parquet', readFileSync(parquet))),
        ),
        ingested(await ingestDirectly(await putDirect('incoming/flights/zoned.csv', `${csv.join('\n')}\n`))),
      ]) {
        expect(report).toMatchObject({ status: 'curated', rowsIn: 20, rowsQuarantined: 0 });
        const dates = (await everyCuratedRow(report)).map((r) => new Date(r.date as Date).getTime());
        expect(dates.sort((x, y) => x - y)).toEqual(expected);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the texts a spec names in nullValues (NA, as R writes a missing value) as missing, row for row', async () => {
    const rows = [
      ...Array.from({ length: 40 }, () => 'Adelie,Torgersen,39.1,18.7,181,3750,MALE'),
      'Adelie,Torgersen,NA,NA,NA,NA,NA',
      'Gentoo,Biscoe,46.1, NA ,211,4500,FEMALE',
      'NA,Biscoe,46.1,13.2,211,4500,FEMALE',
    ];
    const report = await drop('penguins', 'from-r.csv', `${[PENGUINS_HEADER, ...rows].join('\n')}\n`);
    expect(report).toMatchObject({ status: 'curated', rowsIn: 43, rowsQuarantined: 1 });
    // Species may not be missing.
    expect(report.errors).toEqual([{ row: 43, field: 'Species', reason: 'required, but empty' }]);
    const curated = await everyCuratedRow(report);
    expect(curated).toHaveLength(42);
    const notAdelie = (r: Record<string, unknown>) => r.body_mass_g !== 3750;
    expect(
      curated
        .filter(notAdelie)
        .map((r) => [r.species, r.beak_length_mm, r.beak_depth_mm, r.body_mass_g, r.sex])
        .sort(),
    ).toEqual([
      ['Adelie', null, null, null, null],
      ['Gentoo', 46.1, null, 4500, 'FEMALE'],
    ]);
  });

  it("reads a CSV file's whole numbers with DuckDB's reader, and one that holds a number it cannot read again as text, curating alike", async () => {
    const spec = `name: whole
columns:
  n: { type: integer, max: 5000 }
  m: { type: integer, nullable: true }
target: { column: m, task: regression }
split: { by: hash, train: 0.8, validation: 0.1, test: 0.1 }
features: [{ name: n, from: n }]
input: { maxRejectRate: 0.5 }
`;
    await withPipeline('whole', spec, async (pipelinesDir) => {
      const ingest = async (name: string, lines: string[]) => {
        const said: string[] = [];
        const log = { info: (message: string) => said.push(message), warn: () => {}, error: () => {} };
        const source = await putDirect(`incoming/whole/${name}`, `n,m\n${lines.join('\n')}\n`);
        const report = ingested(await ingestDirectly(source, { pipelinesDir, log }));
        return {
          readAgain: said.includes("the file's whole numbers were read again as text"),
          rowsIn: report.rowsIn,
          errors: report.errors.map(({ row, field }) => ({ row, field })),
          n: (await everyCuratedRow(report)).map((r) => Number(r.n)).sort((a, b) => a - b),
        };
      };
      // Every form Number() reads as a whole number, and DuckDB's reader alike.
      const clean = ['3750,1', ' 42 ,2', '1e3,3', '0x10,4', '-0,', '+7,6', '9999,7'];
      expect(await ingest('clean.csv', clean)).toEqual({
        readAgain: false,
        rowsIn: 7,
        errors: [{ row: 7, field: 'n' }],
        n: [0, 7, 16, 42, 1000, 3750],
      });
      // "0o17" stops DuckDB's reader: read as text, rowValidator finds it 15; "12x" is no number.
      expect(await ingest('octal.csv', [...clean, '0o17,8', '12x,9'])).toEqual({
        readAgain: true,
        rowsIn: 9,
        errors: [
          { row: 7, field: 'n' },
          { row: 9, field: 'n' },
        ],
        n: [0, 7, 15, 16, 42, 1000, 3750],
      });
    });
  });

  it('takes messy real data (movies.json) with every bad row explained and every other row curated, typed as the spec says', async () => {
    const movies = jsonDataset('movies.json');
    const report = await drop('movies', 'movies.json', readFileSync(datasetPath('movies.json')));
    expect(report.status).toBe('curated');
    expect(report.rowsIn).toBe(movies.length);
    // Films with no IMDB rating cannot be learned from; one film has no title.
    const unrated = movies.filter((m) => m['IMDB Rating'] === null).length;
    const untitled = movies.filter((m) => m.Title === null).length;
    expect(report.reasons).toEqual({
      'IMDB Rating: required, but empty': unrated,
      'Title: required, but empty': untitled,
    });
    expect(report.rowsQuarantined).toBe(unrated + untitled);
    const { train, validation, test } = report.rowsCurated;
    expect(train + validation + test + report.rowsQuarantined).toBe(movies.length);
    const curated = await everyCuratedRow(report);
    expect(curated).toHaveLength(train + validation + test);
    // A title that is a number in the JSON is still a title; "Jun 12 1998" is a date, in UTC.
    const numeric = movies.find((m) => typeof m.Title === 'number' && m['IMDB Rating'] !== null);
    expect(curated.find((r) => r.title === String(numeric?.Title))).toBeDefined();
    const landGirls = curated.find((r) => r.title === 'The Land Girls');
    expect((landGirls?.release_date as Date | undefined)?.toISOString()).toBe('1998-06-12T00:00:00.000Z');
    expect(landGirls?.imdb_rating).toBe(6.1);
  });

  it('quarantines a malformed JSON line, and one that is no object, as bad rows and curates the lines around them', async () => {
    const rows = jsonDataset('penguins.json').slice(0, 60);
    const lines = rows.map((r) => JSON.stringify(r));
    lines.splice(10, 0, '{"Species": "Adelie", "Island": ');
    lines.splice(40, 0, '["Adelie", "Dream"]');
    const report = await drop('penguins', 'torn.jsonl', `${lines.join('\n')}\n`);
    expect(report.status).toBe('curated');
    expect(report.rowsIn).toBe(62);
    expect(report.errors).toEqual([
      { row: 11, field: '(line)', reason: 'not valid JSON' },
      { row: 41, field: '(line)', reason: 'not a JSON object' },
    ]);
    const { train, validation, test } = report.rowsCurated;
    expect(train + validation + test).toBe(60);
  });

  it.each([
    ['windows.jsonl', (text: string) => Buffer.from(text)],
    ['windows.jsonl.gz', (text: string) => gzipSync(text)],
  ])('reads %s, saved with a byte order mark and \\r\\n, row for row', async (name, encode) => {
    const rows = jsonDataset('penguins.json').slice(0, 30);
    const lines = rows.map((r) => JSON.stringify(r));
    lines.splice(10, 0, '{"Species": "Adelie", "Island": ');
    const report = await drop('penguins', name, encode(`\ufeff${lines.join('\r\n')}\r\n`));
    expect(report.status).toBe('curated');
    expect(report.rowsIn).toBe(31);
    expect(report.errors).toEqual([{ row: 11, field: '(line)', reason: 'not valid JSON' }]);
    const curated = await everyCuratedRow(report);
    expect(curated).toHaveLength(30);
    expect(curated.map((r) => r.species).sort()).toEqual(rows.map((r) => r.Species).sort());
  });

  it('finds bad rows by their number in a file read as byte ranges, and curates a row only rowValidator can clean', async () => {
    const lines = Array.from(
      { length: 460_000 },
      (_, i) => `Gentoo,Biscoe,47.5,15,217,${3000 + (i % 2000)},FEMALE`,
    );
    lines[150_000] = 'Dodo,Biscoe,47.5,15,217,5000,FEMALE';
    // A no-break space around a number: not a form the SQL fast path reads, but rowValidator trims it.
    lines[459_998] = 'Gentoo,Biscoe,\u00a041.7\u00a0,15,217,5000,FEMALE';
    lines[459_999] = 'Gentoo,Biscoe,47.5,15,217,lots,FEMALE';
    const body = `${PENGUINS_HEADER}\n${lines.join('\n')}\n`;
    // Big enough to be fetched as parallel ranges: a row cut between two ranges must come out whole.
    expect(Buffer.byteLength(body)).toBeGreaterThan(RANGE_BYTES);
    const report = await drop('penguins', 'many.csv', body);
    expectDodoAndLots(report, { rowsIn: 460_000, dodo: 150_001, lots: 460_000 });
    const { train, validation, test } = report.rowsCurated;
    expect(train + validation + test).toBe(459_998);
    const curated = await everyCuratedRow(report);
    expect(curated).toHaveLength(459_998);
    expect(curated.filter((r) => r.beak_length_mm === 41.7)).toHaveLength(1);
  });

  it('counts every row of a file with too many bad rows as quarantined with it, the good ones too', async () => {
    const report = await drop(
      'penguins',
      'mostly-good.csv',
      `${[PENGUINS_HEADER, ADELIE_ROW, 'Dodo,Dream,,,,,', ADELIE_ROW].join('\n')}\n`,
    );
    expect(report).toMatchObject({
      status: 'rejected',
      rejection: expect.stringMatching(/^1 of 3 rows failed validation/),
      rowsIn: 3,
      rowsCurated: { train: 0, validation: 0, test: 0 },
      rowsQuarantined: 3,
      errors: [{ row: 2, field: 'Species', reason: '"Dodo" is not one of Adelie, Chinstrap, Gentoo' }],
    });
  });

  it.each([
    ['too many bad rows', 'bad.csv', `${PENGUINS_HEADER}\nDodo,Mars,1,1,1,1,\n`, /rows failed validation/],
    ['a header only', 'header.csv', `${PENGUINS_HEADER}\n`, /only a header/],
    ['an empty file', 'empty.csv', '', /empty file/],
    ['an empty JSON array', 'empty.json', '[ ]\n', /^no rows$/],
    [
      'a JSON array of arrays',
      'table.json',
      '[["Species", "Island"], ["Adelie", "Dream"]]',
      /has none: no JSON object in it has a key$/,
    ],
    [
      'a file written with another delimiter than the spec says',
      'semicolons.csv',
      'Species;Island;Beak Length (mm);Beak Depth (mm);Flipper Length (mm);Body Mass (g);Sex\nAdelie;Dream;39.1;18.7;181;3750;MALE\n',
      /^no column "Species", .* \(one column, holding ";": the spec's delimiter is ","\)$/,
    ],
    [
      'corrupt gzip',
      'broken.csv.gz',
      Buffer.concat([gzipSync('Species,Island\n'.repeat(1000)).subarray(0, 40)]),
      /corrupt gzip/,
    ],
    [
      'invalid UTF-8',
      'latin1.csv',
      Buffer.from('Species,Island\nAdelie,Tørgersen\n', 'latin1'),
      /not valid UTF-8/,
    ],
    ['a file of another format than its name', 'fake.parquet', 'Species,Island\n', /not a Parquet file/],
  ])(
    'rejects %s as a whole file: the reason reported, the source quarantined, nothing curated',
    async (_what, name, body, reason) => {
      const report = await drop('penguins', name, body);
      expect(report.status).toBe('rejected');
      expect(report.rejection).toMatch(reason);
      expect(report.rowsCurated).toEqual({ train: 0, validation: 0, test: 0 });
      expect(report.rowsIn).toBe(report.rowsQuarantined);
      expect(await keys(CURATED, `curated/penguins/ingest=${report.ingestId}/`)).toEqual([]);
      const copy = await s3.send(
        new HeadObjectCommand({ Bucket: RAW, Key: `quarantine/penguins/${report.ingestId}/source/${name}` }),
      );
      expect(decodeURIComponent(copy.Metadata?.['mlpipe-reason'] ?? '')).toMatch(reason);
    },
  );

  it('ingests a file the AWS CLI uploads in parts, once, with one training run', async () => {
    // Over the CLI's 8 MB multipart threshold: the object arrives as two parts and one
    // ObjectCreated:CompleteMultipartUpload event.
    const penguins = jsonDataset('penguins.json');
    const rows = Array.from({ length: 70_000 }, (_, i) => ({ ...penguins[i % penguins.length] }));
    const file = join(dataDir, 'penguins-big.jsonl');
    writeFileSync(file, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...cloud.env };
    await promisify(execFile)(
      '/usr/bin/aws',
      ['--endpoint-url', cloud.s3.url, 's3', 'cp', file, `s3://${RAW}/incoming/penguins/penguins-big.jsonl`],
      { env },
    );
    await cloud.settle();
    const reports: IngestReport[] = [];
    for (const k of await keys(ARTIFACTS, 'reports/ingest/penguins/')) {
      const report = JSON.parse(await text(ARTIFACTS, k)) as IngestReport;
      if (report.source.key === 'incoming/penguins/penguins-big.jsonl') reports.push(report);
    }
    expect(reports).toHaveLength(1);
    const [report] = reports as [IngestReport];
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: RAW, Key: 'incoming/penguins/penguins-big.jsonl' }),
    );
    expect(head.ContentLength).toBeGreaterThan(8 * 2 ** 20);
    expect(report.source.etag).toBe(head.ETag?.replace(/"/g, ''));
    expect(report.status).toBe('curated');
    expect(report.rowsIn).toBe(rows.length);
    const c = report.rowsCurated;
    expect(c.train + c.validation + c.test + report.rowsQuarantined).toBe(rows.length);
    const sfn = new SFNClient(localClientConfig(cloud.sfn.url));
    const executions = await sfn.send(
      new ListExecutionsCommand({
        stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:mlpipe-local-training',
      }),
    );
    sfn.destroy();
    expect(executions.executions?.filter((e) => e.name === report.ingestId)).toHaveLength(1);
  });

  it('curates a file whose few times leave the test split empty, but starts no training on it, saying why', async () => {
    // Daily data of two days: split by time, a day's rows stay together, and all of them are train.
    const rows = Array.from({ length: 10 }, (_, i) => `2001-01-0${i < 5 ? 1 : 2} 00:00:00,${i},100,SFO,LAX`);
    const report = await drop(
      'flights',
      'two-days.csv',
      `date,delay,distance,origin,destination\n${rows.join('\n')}\n`,
    );
    expect(report).toMatchObject({
      status: 'curated',
      rowsIn: 10,
      rowsCurated: { train: 10, validation: 0, test: 0 },
      trainingSkipped:
        'the test split is empty: split by time, rows of one time stay in one split, and the 10 rows curated have too few times to fill every split',
    });
    expect(await keys(CURATED, `curated/flights/ingest=${report.ingestId}/split=train/`)).toHaveLength(1);
    const executions = await sfn.send(
      new ListExecutionsCommand({
        stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:mlpipe-local-training',
      }),
    );
    expect(executions.executions?.map((e) => e.name)).not.toContain(report.ingestId);
  });

  it('rejects a file for a pipeline that has no spec, naming it', async () => {
    const report = await drop('zebras', 'z.csv', 'a,b\n1,2\n');
    expect(report.status).toBe('rejected');
    expect(report.rejection).toBe(
      'unknown pipeline "zebras": no pipelines/zebras.yml (known pipelines: cars, flights, movies, penguins)',
    );
  });
});
