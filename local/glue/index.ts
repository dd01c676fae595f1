import { join } from 'node:path';
import { AwsServiceError } from '../protocol/errors';
import { startJsonService } from '../protocol/json';
import { openJsonStore } from '../protocol/store';
import type { RunningService } from '../types';

/**
 * The Glue Data Catalog operations mlpipe uses: the databases and tables that the local Athena
 * reads (names, columns, locations, partition keys and projection parameters), persisted in
 * `<dataDir>/glue/catalog.json`. Glue lower-cases names, so lookups here do too.
 * https://docs.aws.amazon.com/glue/latest/webapi/API_Operations.html
 */
type Json = Record<string, unknown>;
interface Catalog {
  databases: Record<string, Json>;
  tables: Record<string, Record<string, Json>>;
}

export const startGlue = async ({
  port,
  dataDir,
}: {
  port: number;
  dataDir: string;
}): Promise<RunningService> => {
  const store = openJsonStore<Catalog>(join(dataDir, 'glue', 'catalog.json'), () => ({
    databases: {},
    tables: {},
  }));
  const catalog = store.data;
  const lower = (v: unknown) => String(v ?? '').toLowerCase();
  const database = (input: Json): string => {
    const name = lower(input.DatabaseName ?? input.Name);
    if (!catalog.databases[name])
      throw new AwsServiceError('EntityNotFoundException', `Database ${name} not found.`);
    return name;
  };
  const table = (input: Json): Json => {
    const db = database(input);
    const name = lower(input.Name ?? input.TableName);
    const found = catalog.tables[db]?.[name];
    if (!found) throw new AwsServiceError('EntityNotFoundException', `Table ${name} not found.`);
    return found;
  };
  const putTable = (input: Json, create: boolean) => {
    const db = database(input);
    const tableInput = (input.TableInput ?? {}) as Json;
    const name = lower(tableInput.Name);
    if (!name) throw new AwsServiceError('InvalidInputException', 'TableInput.Name is required');
    catalog.tables[db] ??= {};
    const tables = catalog.tables[db];
    if (create && tables[name])
      throw new AwsServiceError('AlreadyExistsException', `Table ${name} already exists.`);
    if (!create && !tables[name])
      throw new AwsServiceError('EntityNotFoundException', `Table ${name} not found.`);
    const now = new Date().toISOString();
    tables[name] = {
      ...tableInput,
      Name: name,
      DatabaseName: db,
      CreateTime: (tables[name]?.CreateTime as string | undefined) ?? now,
      UpdateTime: now,
    };
    store.save();
    return {};
  };
  // Dates travel as epoch seconds in the JSON protocols.
  const shown = (t: Json): Json => ({
    ...t,
    CreateTime: Date.parse(String(t.CreateTime)) / 1000,
    UpdateTime: Date.parse(String(t.UpdateTime)) / 1000,
  });
  return startJsonService(
    {
      key: 'GLUE',
      protocol: 'awsJson1_1',
      operations: {
        CreateDatabase: async (input) => {
          const db = (input.DatabaseInput ?? {}) as Json;
          const name = lower(db.Name);
          if (catalog.databases[name])
            throw new AwsServiceError('AlreadyExistsException', `Database ${name} already exists.`);
          catalog.databases[name] = { ...db, Name: name, CreateTime: Date.now() / 1000 };
          store.save();
          return {};
        },
        GetDatabase: async (input) => ({ Database: catalog.databases[database(input)] }),
        GetDatabases: async () => ({ DatabaseList: Object.values(catalog.databases) }),
        CreateTable: async (input) => putTable(input, true),
        UpdateTable: async (input) => putTable(input, false),
        GetTable: async (input) => ({ Table: shown(table(input)) }),
        GetTables: async (input) => ({
          TableList: Object.values(catalog.tables[database(input)] ?? {}).map(shown),
        }),
        DeleteTable: async (input) => {
          table(input);
          delete catalog.tables[database(input)]?.[lower(input.Name)];
          store.save();
          return {};
        },
      },
    },
    port,
  );
};
