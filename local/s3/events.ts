import type { S3EventRecord } from 'aws-lambda';

/**
 * S3 event records as AWS sends them. s3rver's records differ from AWS's in ways handlers notice
 * (TOOLCHAIN.md): keys are not URL-encoded, the bucket ARN is malformed, and a completed multipart
 * upload is reported as ObjectCreated:Post. Records are normalised here before anyone sees them.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
 */

/** Keys in event records are form-URL-encoded (space → "+"), segment by segment. */
export const encodeEventKey = (key: string): string =>
  key
    .split('/')
    .map((segment) =>
      encodeURIComponent(segment)
        .replace(/%20/g, '+')
        .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    )
    .join('/');

export const decodeEventKey = (key: string): string => decodeURIComponent(key.replace(/\+/g, ' '));

const EVENT_NAMES: Record<string, string> = {
  'ObjectCreated:Post': 'ObjectCreated:CompleteMultipartUpload',
};

export const normaliseRecord = (record: S3EventRecord, region: string): S3EventRecord => {
  const bucket = record.s3.bucket.name;
  return {
    ...record,
    awsRegion: region,
    eventName: (EVENT_NAMES[record.eventName] ?? record.eventName) as S3EventRecord['eventName'],
    s3: {
      ...record.s3,
      bucket: { ...record.s3.bucket, arn: `arn:aws:s3:::${bucket}` },
      object: { ...record.s3.object, key: encodeEventKey(record.s3.object.key) },
    },
  };
};

export interface FilterRule {
  readonly Name: string;
  readonly Value: string;
}

/** The prefix / suffix rules of a notification, matched against the decoded key as AWS does. */
export const matchesFilter = (rules: readonly FilterRule[], key: string): boolean =>
  rules.every((rule) => {
    const name = rule.Name.toLowerCase();
    if (name === 'prefix') return key.startsWith(rule.Value);
    if (name === 'suffix') return key.endsWith(rule.Value);
    return false;
  });

/** `s3:ObjectCreated:*` style event patterns against a record's event name. */
export const matchesEvent = (patterns: readonly string[], eventName: string): boolean =>
  patterns.some((pattern) => {
    const p = pattern.replace(/^s3:/, '');
    return p.endsWith('*') ? eventName.startsWith(p.slice(0, -1)) : p === eventName;
  });
