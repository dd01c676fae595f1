import {
  type AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';

/** A query that ended FAILED or CANCELLED; a stable name the state machine retries on. */
export class AthenaQueryFailedError extends Error {
  override name = 'AthenaQueryFailedError';
}

export interface AthenaTarget {
  readonly workGroup: string;
  readonly database: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs one query to the end and returns its rows as objects of text (Athena's result values).
 * https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html
 */
export const runQuery = async (
  athena: AthenaClient,
  target: AthenaTarget,
  sql: string,
  pollMillis = 500,
): Promise<Record<string, string | null>[]> => {
  const { QueryExecutionId } = await athena.send(
    new StartQueryExecutionCommand({
      QueryString: sql,
      WorkGroup: target.workGroup,
      QueryExecutionContext: { Database: target.database },
    }),
  );
  for (;;) {
    const { QueryExecution } = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId }));
    const state = QueryExecution?.Status?.State;
    if (state === 'SUCCEEDED') break;
    if (state === 'FAILED' || state === 'CANCELLED') {
      throw new AthenaQueryFailedError(
        `Athena query ${QueryExecutionId} ${state}: ${QueryExecution?.Status?.StateChangeReason ?? 'no reason given'}`,
      );
    }
    await sleep(pollMillis);
  }
  const rows: Record<string, string | null>[] = [];
  let names: string[] | undefined;
  let token: string | undefined;
  do {
    const page = await athena.send(
      new GetQueryResultsCommand({ QueryExecutionId, ...(token ? { NextToken: token } : {}) }),
    );
    const data = page.ResultSet?.Rows ?? [];
    for (const [i, row] of data.entries()) {
      const values = (row.Data ?? []).map((d) => d.VarCharValue ?? null);
      // The first row of the first page is the header.
      if (!names && i === 0) {
        names = (page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((c) => c.Name ?? '');
        continue;
      }
      rows.push(Object.fromEntries((names ?? []).map((n, c) => [n, values[c] ?? null])));
    }
    token = page.NextToken;
  } while (token);
  return rows;
};
