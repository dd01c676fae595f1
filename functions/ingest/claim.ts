import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { forEachAtOnce } from '../shared/at-once';
import { getTextVersion, isLostRace, listKeys, putJson, type S3Pointer } from '../shared/s3';

/**
 * One attempt at a time per object version. S3 may deliver an event twice, and Lambda may run the
 * two deliveries at once; the curated parts of two attempts differ (DuckDB's rotating writer
 * groups rows differently each run), so two attempts writing under one prefix could leave a mix.
 * Before it curates, an attempt claims the object version with a conditional write; the claim
 * names the attempt (Lambda's request id, which a retry of the same event keeps) and when it
 * expires (when the attempt's time is up). https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 */
export const claimKey = (pipeline: string, ingestId: string) => `claims/ingest/${pipeline}/${ingestId}.json`;

/** Lambda's longest timeout, for an attempt that does not say how long it may run. */
export const LONGEST_ATTEMPT_MS = 15 * 60_000;
/** Writes still in flight when an attempt was stopped have landed after this. */
export const CLAIM_MARGIN_MS = 30_000;

export type Claimed =
  /** `resumed`: an earlier attempt held the claim (this event's, or one whose time ran out), and may have left parts. */
  { readonly taken: 'new' | 'resumed' } | { readonly heldBy: string };

interface ClaimBody {
  readonly attempt: string;
  readonly expiresAt: string;
}

const readClaim = (text: string): Partial<ClaimBody> => {
  try {
    return JSON.parse(text) as Partial<ClaimBody>;
  } catch {
    return {};
  }
};

export const claimObjectVersion = async (
  s3: S3Client,
  at: S3Pointer,
  attempt: string,
  expiresAt: number,
  now: () => number,
): Promise<Claimed> => {
  const body: ClaimBody = { attempt, expiresAt: new Date(expiresAt).toISOString() };
  for (let tries = 0; tries < 3; tries++) {
    try {
      await putJson(s3, at, body, { over: null });
      return { taken: 'new' };
    } catch (error) {
      if (!isLostRace(error)) throw error;
    }
    const held = await getTextVersion(s3, at);
    // Released between the two requests: ask again.
    if (!held) continue;
    // A claim that cannot be read as one has no live attempt behind it.
    const current = readClaim(held.text);
    const live = Date.parse(String(current.expiresAt)) > now();
    if (current.attempt !== attempt && live) return { heldBy: String(current.attempt) };
    try {
      await putJson(s3, at, body, { over: held.etag });
      return { taken: 'resumed' };
    } catch (error) {
      if (!isLostRace(error)) throw error;
      // Another attempt took it over first.
    }
  }
  return { heldBy: 'another attempt' };
};

export const releaseClaim = async (s3: S3Client, at: S3Pointer): Promise<void> => {
  await s3.send(new DeleteObjectCommand({ Bucket: at.bucket, Key: at.key }));
};

/** Removes what an earlier attempt left under a prefix; returns how many objects. */
export const removePrefix = async (s3: S3Client, bucket: string, prefix: string): Promise<number> => {
  const keys = await listKeys(s3, bucket, prefix);
  await forEachAtOnce(keys, 8, async (key) => {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  });
  return keys.length;
};
