import { randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetTableCommand, GlueClient, type Table } from '@aws-sdk/client-glue';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { AwsServiceError } from '../protocol/errors';
import { startJsonService } from '../protocol/json';
import { openJsonStore } from '../protocol/store';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localS3Config, type RunningService } from '../types';
import { athenaTypeOfDuck, duckTypeOfHive, parseUnload, TRINO_COMPAT_MACROS, tableReferences } from './trino';

/**
 * Athena for what mlpipe uses: queries (SELECT and UNLOAD) over Glue tables of Parquet in S3, run
 * by DuckDB with Trino's missing functions mapped (trino.ts); work groups with their result
 * location and bytes-scanned limit. A table's objects are fetched from the local S3 over the wire
 * (DuckDB's httpfs cannot be installed here) into `<dataDir>/athena/cache`. Query states and
 * results persist in `<dataDir>/athena`.
 * https://docs.aws.amazon.com/athena/latest/APIReference/API_Operations.html
 */
type Json = Record<string, unknown>;

interface StoredQuery {
  id: string;
  query: string;
  workGroup: string;
  database?: string;
  outputLocation: string;
  state: 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  reason?: string;
  submitted: number;
  completed?: number;
  bytesScanned: number;
  statementType: 'DML' | 'DDL' | 'UTILITY';
}

interface StoredResult {
  columns: { Name: string; Type: string }[];
  rows: (string | null)[][];
}

interface WorkGroup {
  name: string;
  outputLocation?: string;
  bytesScannedCutoff?: number;
}

export interface AthenaOptions {
  readonly port: number;
  readonly dataDir: string;
  readonly s3Endpoint: string;
  readonly glueEndpoint: string;
}

const parseS3 = (uri: string): { bucket: string; key: string } => {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m?.[1]) throw new AwsServiceError('InvalidRequestException', `not an s3:// location: ${uri}`);
  return { bucket: m[1], key: m[2] ?? '' };
};

const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;
const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

const cell = (v: unknown): string | null => {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString().replace('T', ' ').replace('Z', '');
  if (typeof v === 'object') return JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? String(x) : x));
  return String(v);
};

const csvField = (v: string | null) => (v === null ? '' : `"${v.replace(/"/g, '""')}"`);

export const startAthena = async (options: AthenaOptions): Promise<RunningService> => {
  const dir = join(options.dataDir, 'athena');
  const cacheDir = join(dir, 'cache');
  const store = openJsonStore<{
    queries: Record<string, StoredQuery>;
    workGroups: Record<string, WorkGroup>;
  }>(join(dir, 'state.json'), () => ({ queries: {}, workGroups: { primary: { name: 'primary' } } }));
  const { queries, workGroups } = store.data;
  // Queries running when the last process stopped never finish: say so instead of leaving them RUNNING.
  for (const q of Object.values(queries)) {
    if (q.state === 'RUNNING' || q.state === 'QUEUED') {
      q.state = 'FAILED';
      q.reason = 'the local cloud stopped while the query ran';
    }
  }
  const resultFile = (id: string) => join(dir, 'results', `${id}.json`);
  const s3 = new S3Client(localS3Config(options.s3Endpoint));
  const glue = new GlueClient({
    endpoint: options.glueEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });

  const listKeys = async (bucket: string, prefix: string) => {
    const out: { key: string; size: number; etag: string }[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const o of page.Contents ?? [])
        if (o.Key && !o.Key.endsWith('/')) out.push({ key: o.Key, size: o.Size ?? 0, etag: o.ETag ?? '' });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  };

  /** Brings a table's objects (those the query can read) to local files, once per object version. */
  const fetchObjects = async (bucket: string, prefix: string) => {
    const files: string[] = [];
    let bytes = 0;
    for (const object of await listKeys(bucket, prefix)) {
      const file = join(cacheDir, bucket, object.key);
      const marker = `${file}.etag`;
      if (!existsSync(file) || !existsSync(marker) || readFileSync(marker, 'utf8') !== object.etag) {
        mkdirSync(dirname(file), { recursive: true });
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.key }));
        await pipeline(got.Body as Readable, createWriteStream(file));
        await pipeline(Readable.from([object.etag]), createWriteStream(marker));
      }
      files.push(file);
      bytes += object.size;
    }
    return { files, bytes };
  };

  const run = async (q: StoredQuery): Promise<void> => {
    const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
    const connection = await instance.connect();
    const scratch = join(dir, 'scratch', q.id);
    try {
      for (const macro of TRINO_COMPAT_MACROS) await connection.run(macro);
      const unload = parseUnload(q.query);
      const select = unload ? unload.select : q.query;
      for (const reference of tableReferences(select, q.database)) {
        const table = await glue
          .send(new GetTableCommand({ DatabaseName: reference.database, Name: reference.table }))
          .catch((error: Error) => {
            throw new AwsServiceError(
              'InvalidRequestException',
              `TABLE_NOT_FOUND: line 1: Table awsdatacatalog.${reference.database}.${reference.table} does not exist (${error.message})`,
            );
          });
        const t: Table = table.Table ?? { Name: reference.table };
        const location = parseS3(t.StorageDescriptor?.Location ?? '');
        const partitions = (t.PartitionKeys ?? []).map((k) => k.Name ?? '').filter(Boolean);
        // Partition projection with an injected key: only the named partition is read, as in Athena.
        let prefix = location.key;
        const first = partitions[0];
        const injected = first
          ? new RegExp(`"?${first}"?\\s*=\\s*'([^']*)'`, 'i').exec(select)?.[1]
          : undefined;
        if (first && injected !== undefined) prefix = `${prefix}${first}=${injected}/`;
        const { files, bytes } = await fetchObjects(location.bucket, prefix);
        q.bytesScanned += bytes;
        await connection.run(`CREATE SCHEMA IF NOT EXISTS ${ident(reference.database)}`);
        const name = `${ident(reference.database)}.${ident(reference.table)}`;
        if (files.length > 0) {
          const hiveTypes = partitions.map((p) => `${quote(p)}: 'VARCHAR'`).join(', ');
          await connection.run(
            `CREATE VIEW ${name} AS SELECT * FROM read_parquet([${files.map(quote).join(', ')}], hive_partitioning = true, union_by_name = true${partitions.length ? `, hive_types = {${hiveTypes}}` : ''})`,
          );
        } else {
          const columns = [...(t.StorageDescriptor?.Columns ?? []), ...(t.PartitionKeys ?? [])].map(
            (c) => `${ident(c.Name ?? '')} ${duckTypeOfHive(c.Type ?? 'string')}`,
          );
          await connection.run(`CREATE TABLE ${name} (${columns.join(', ')})`);
        }
      }
      // The context's database is where unqualified names are looked up, as in Athena.
      if (q.database) {
        await connection.run(`CREATE SCHEMA IF NOT EXISTS ${ident(q.database)}`);
        await connection.run(`SET search_path = ${quote(`${q.database},main`)}`);
      }
      const cutoff = workGroups[q.workGroup]?.bytesScannedCutoff;
      if (cutoff !== undefined && q.bytesScanned > cutoff) {
        throw new Error(
          `Query exhausted the bytes scanned limit of work group ${q.workGroup}: ${q.bytesScanned} > ${cutoff} bytes`,
        );
      }
      if (unload) {
        const destination = parseS3(unload.destination);
        const prefix =
          destination.key.endsWith('/') || destination.key === '' ? destination.key : `${destination.key}/`;
        if ((await listKeys(destination.bucket, prefix)).length > 0) {
          throw new Error(
            `HIVE_PATH_ALREADY_EXISTS: Target directory for table already exists: ${unload.destination}`,
          );
        }
        if (unload.format !== 'PARQUET')
          throw new Error(`UNLOAD format ${unload.format} is not supported locally`);
        mkdirSync(scratch, { recursive: true });
        const file = join(scratch, 'part');
        await connection.run(
          `COPY (${unload.select}) TO ${quote(file)} (FORMAT parquet, COMPRESSION ${unload.compression ?? 'SNAPPY'})`,
        );
        // Athena names UNLOAD files <query id>_<uuid>, with no extension.
        await s3.send(
          new PutObjectCommand({
            Bucket: destination.bucket,
            Key: `${prefix}${q.id}_${randomUUID()}`,
            Body: readFileSync(file),
          }),
        );
        q.statementType = 'UTILITY';
        return;
      }
      const reader = await connection.runAndReadAll(select);
      const columns = reader.columnNames().map((Name, i) => ({
        Name,
        Type: athenaTypeOfDuck(String(reader.columnTypes()[i] ?? 'VARCHAR')),
      }));
      const rows = (reader.getRowsJS() as unknown[][]).map((row) => row.map(cell));
      const result: StoredResult = { columns, rows };
      mkdirSync(dirname(resultFile(q.id)), { recursive: true });
      await pipeline(Readable.from([JSON.stringify(result)]), createWriteStream(resultFile(q.id)));
      const out = parseS3(q.outputLocation);
      const csv = [columns.map((c) => csvField(c.Name)), ...rows.map((r) => r.map(csvField))].map((r) =>
        r.join(','),
      );
      await s3.send(
        new PutObjectCommand({
          Bucket: out.bucket,
          Key: `${out.key.replace(/\/?$/, '/')}${q.id}.csv`.replace(/^\//, ''),
          Body: `${csv.join('\n')}\n`,
        }),
      );
    } finally {
      rmSync(scratch, { recursive: true, force: true });
      connection.closeSync();
      instance.closeSync();
    }
  };

  const describe = (q: StoredQuery) => ({
    QueryExecutionId: q.id,
    Query: q.query,
    StatementType: q.statementType,
    WorkGroup: q.workGroup,
    ...(q.database ? { QueryExecutionContext: { Database: q.database } } : {}),
    ResultConfiguration: { OutputLocation: `${q.outputLocation.replace(/\/?$/, '/')}${q.id}.csv` },
    Status: {
      State: q.state,
      SubmissionDateTime: q.submitted / 1000,
      ...(q.completed ? { CompletionDateTime: q.completed / 1000 } : {}),
      ...(q.reason ? { StateChangeReason: q.reason } : {}),
      ...(q.state === 'FAILED' ? { AthenaError: { ErrorCategory: 2, ErrorMessage: q.reason } } : {}),
    },
    Statistics: {
      DataScannedInBytes: q.bytesScanned,
      EngineExecutionTimeInMillis: q.completed ? q.completed - q.submitted : 0,
      TotalExecutionTimeInMillis: q.completed ? q.completed - q.submitted : 0,
    },
  });
  const queryOf = (input: Json) => {
    const q = queries[String(input.QueryExecutionId ?? '')];
    if (!q)
      throw new AwsServiceError(
        'InvalidRequestException',
        `QueryExecution ${String(input.QueryExecutionId)} was not found`,
      );
    return q;
  };
  const running = new Set<Promise<void>>();

  const service = await startJsonService(
    {
      key: 'ATHENA',
      protocol: 'awsJson1_1',
      operations: {
        CreateWorkGroup: async (input) => {
          const name = String(input.Name ?? '');
          if (workGroups[name])
            throw new AwsServiceError('InvalidRequestException', `WorkGroup ${name} already exists`);
          const config = (input.Configuration ?? {}) as Json;
          const location = (config.ResultConfiguration as Json | undefined)?.OutputLocation;
          workGroups[name] = {
            name,
            ...(location ? { outputLocation: String(location) } : {}),
            ...(config.BytesScannedCutoffPerQuery !== undefined
              ? { bytesScannedCutoff: Number(config.BytesScannedCutoffPerQuery) }
              : {}),
          };
          store.save();
          return {};
        },
        GetWorkGroup: async (input) => {
          const wg = workGroups[String(input.WorkGroup ?? '')];
          if (!wg)
            throw new AwsServiceError(
              'InvalidRequestException',
              `WorkGroup ${String(input.WorkGroup)} is not found`,
            );
          return {
            WorkGroup: {
              Name: wg.name,
              State: 'ENABLED',
              Configuration: {
                ...(wg.outputLocation ? { ResultConfiguration: { OutputLocation: wg.outputLocation } } : {}),
                ...(wg.bytesScannedCutoff !== undefined
                  ? { BytesScannedCutoffPerQuery: wg.bytesScannedCutoff }
                  : {}),
              },
            },
          };
        },
        ListWorkGroups: async () => ({
          WorkGroups: Object.values(workGroups).map((wg) => ({ Name: wg.name, State: 'ENABLED' })),
        }),
        StartQueryExecution: async (input) => {
          const workGroup = String(input.WorkGroup ?? 'primary');
          const wg = workGroups[workGroup];
          if (!wg)
            throw new AwsServiceError('InvalidRequestException', `WorkGroup ${workGroup} is not found`);
          const outputLocation =
            wg.outputLocation ??
            ((input.ResultConfiguration as Json | undefined)?.OutputLocation as string | undefined);
          if (!outputLocation) {
            throw new AwsServiceError(
              'InvalidRequestException',
              'No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.',
            );
          }
          const context = input.QueryExecutionContext as Json | undefined;
          const q: StoredQuery = {
            id: randomUUID(),
            query: String(input.QueryString ?? ''),
            workGroup,
            ...(context?.Database ? { database: String(context.Database) } : {}),
            outputLocation,
            state: 'RUNNING',
            submitted: Date.now(),
            bytesScanned: 0,
            statementType: 'DML',
          };
          queries[q.id] = q;
          store.save();
          const task = run(q)
            .then(() => {
              q.state = 'SUCCEEDED';
            })
            .catch((error: Error) => {
              q.state = 'FAILED';
              q.reason = error.message;
            })
            .finally(() => {
              q.completed = Date.now();
              store.save();
              running.delete(task);
            });
          running.add(task);
          return { QueryExecutionId: q.id };
        },
        GetQueryExecution: async (input) => ({ QueryExecution: describe(queryOf(input)) }),
        StopQueryExecution: async (input) => {
          const q = queryOf(input);
          if (q.state === 'RUNNING' || q.state === 'QUEUED') {
            q.state = 'CANCELLED';
            q.completed = Date.now();
            store.save();
          }
          return {};
        },
        GetQueryResults: async (input) => {
          const q = queryOf(input);
          if (q.state !== 'SUCCEEDED') {
            throw new AwsServiceError(
              'InvalidRequestException',
              `Query has not yet finished. Current state: ${q.state}`,
            );
          }
          if (q.statementType !== 'DML' || !existsSync(resultFile(q.id))) {
            return { ResultSet: { Rows: [], ResultSetMetadata: { ColumnInfo: [] } }, UpdateCount: 0 };
          }
          const result = JSON.parse(readFileSync(resultFile(q.id), 'utf8')) as StoredResult;
          const all = [result.columns.map((c) => c.Name), ...result.rows];
          const start = Number(input.NextToken ?? 0);
          const size = Math.min(Number(input.MaxResults ?? 1000), 1000);
          const page = all.slice(start, start + size);
          return {
            ResultSet: {
              Rows: page.map((row) => ({ Data: row.map((v) => (v === null ? {} : { VarCharValue: v })) })),
              ResultSetMetadata: {
                ColumnInfo: result.columns.map((c) => ({
                  Name: c.Name,
                  Label: c.Name,
                  Type: c.Type,
                  Nullable: 'UNKNOWN',
                })),
              },
            },
            ...(start + size < all.length ? { NextToken: String(start + size) } : {}),
            UpdateCount: 0,
          };
        },
        ListQueryExecutions: async (input) => ({
          QueryExecutionIds: Object.values(queries)
            .filter((q) => !input.WorkGroup || q.workGroup === input.WorkGroup)
            .sort((a, b) => b.submitted - a.submitted)
            .map((q) => q.id),
        }),
      },
    },
    options.port,
    async () => {
      await Promise.allSettled([...running]);
      s3.destroy();
      glue.destroy();
    },
  );
  return service;
};
