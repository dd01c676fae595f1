import { tmpdir } from 'node:os';
import type { Context } from 'aws-lambda';

/** A test function that tells what it saw: how often its module was initialised, its context and env. */
const initialisedAt = Date.now();
let invocations = 0;

export const handler = async (
  event: { sleepMs?: number; fail?: string; exit?: boolean; tag?: string },
  context: Context,
) => {
  invocations += 1;
  if (event.tag) console.log(JSON.stringify({ message: 'invoked', tag: event.tag }));
  if (event.exit) process.exit(3);
  if (event.sleepMs) await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  if (event.fail) throw new TypeError(event.fail);
  console.log(JSON.stringify({ message: 'probed', invocations }));
  return {
    pid: process.pid,
    initialisedAt,
    invocations,
    functionName: context.functionName,
    requestId: context.awsRequestId,
    remainingMs: context.getRemainingTimeInMillis(),
    stage: process.env.MLPIPE_STAGE,
    tmp: tmpdir(),
  };
};
