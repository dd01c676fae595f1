import type { ColumnType } from './schema';

/** How a spec column type is declared in the Glue catalog (Hive DDL types, as Athena reads them). */
export const glueColumnType = (type: ColumnType): string =>
  ({ string: 'string', number: 'double', integer: 'bigint', boolean: 'boolean', timestamp: 'timestamp' })[
    type
  ];
