import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';

/**
 * Every record of a stream from its start, shard by shard, in order within each shard: how the demo,
 * the tests and the benchmarks read what came out (the predictions stream).
 */
export const readStream = async (client: KinesisClient, streamName: string): Promise<Uint8Array[]> => {
  const out: Uint8Array[] = [];
  for (const shard of (await client.send(new ListShardsCommand({ StreamName: streamName }))).Shards ?? []) {
    let iterator = (
      await client.send(
        new GetShardIteratorCommand({
          StreamName: streamName,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      )
    ).ShardIterator;
    while (iterator) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      const records = page.Records ?? [];
      for (const r of records) out.push(r.Data ?? new Uint8Array());
      if (records.length === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return out;
};
