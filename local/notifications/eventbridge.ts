import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startJsonService } from '../protocol/json';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION, type RunningService } from '../types';

/**
 * EventBridge PutEvents on the default bus, recorded in `<dataDir>/events/events.jsonl` in the
 * shape a rule target would receive. Rules and targets are not run locally.
 * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
 */
export interface RecordedEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: string[];
  readonly detail: unknown;
  readonly eventBusName: string;
}

export interface RunningEventBridge extends RunningService {
  events(): RecordedEvent[];
}

/** An event's total size limit: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html */
const MAX_ENTRY_BYTES = 256 * 1024;

export const startEventBridge = async ({
  port,
  dataDir,
}: {
  port: number;
  dataDir: string;
}): Promise<RunningEventBridge> => {
  const dir = join(dataDir, 'events');
  mkdirSync(dir, { recursive: true });
  const log = join(dir, 'events.jsonl');
  const service = await startJsonService(
    {
      key: 'EVENTBRIDGE',
      protocol: 'awsJson1_1',
      operations: {
        PutEvents: async (input) => {
          const entries = (input.Entries ?? []) as Record<string, unknown>[];
          const results = entries.map((entry) => {
            const bus = String(entry.EventBusName ?? 'default');
            let detail: unknown;
            try {
              detail = JSON.parse(String(entry.Detail ?? '{}'));
            } catch {
              return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
            }
            if (!entry.Source || !entry.DetailType)
              return {
                ErrorCode: 'InvalidArgument',
                ErrorMessage: 'Parameters Source and DetailType are required.',
              };
            if (bus !== 'default' && !bus.endsWith(':event-bus/default'))
              return {
                ErrorCode: 'ResourceNotFoundException',
                ErrorMessage: `Event bus ${bus} does not exist.`,
              };
            const event: RecordedEvent = {
              version: '0',
              id: randomUUID(),
              'detail-type': String(entry.DetailType),
              source: String(entry.Source),
              account: LOCAL_ACCOUNT_ID,
              time: new Date().toISOString(),
              region: LOCAL_REGION,
              resources: (entry.Resources ?? []) as string[],
              detail,
              eventBusName: 'default',
            };
            const line = JSON.stringify(event);
            if (Buffer.byteLength(line) > MAX_ENTRY_BYTES)
              return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Event is over the 256 KB limit.' };
            appendFileSync(log, `${line}\n`);
            return { EventId: event.id };
          });
          return { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results };
        },
      },
    },
    port,
  );
  return {
    ...service,
    events: () =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as RecordedEvent)
        : [],
  };
};
