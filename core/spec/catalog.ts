import type { ColumnType } from './schema';

/** How a spec column type is declared in the Glue catalog (Hive DDL types, as Athena reads them). */
export const glueColumnType = (type: ColumnType): string =>
  ({ string: 'string', number: 'double', integer: 'bigint', boolean: 'boolean', timestamp: 'timestamp' })[
    type
  ];

/**
 * A spec column's name in curated Parquet and the Glue table: lower case, runs of anything but
 * letters and digits as one underscore. Athena accepts no other characters in column names
 * (https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html), and Glue
 * lower-cases them anyway. "Beak Length (mm)" → "beak_length_mm".
 */
export const curatedColumnName = (name: string): string =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '') || 'column';
