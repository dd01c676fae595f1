import type * as z from 'zod';

/** An event that does not have the shape a step expects: named, with the first wrong field. */
export class InvalidEventError extends Error {
  override name = 'InvalidEventError';
}

export const parseEvent = <S extends z.ZodType>(schema: S, event: unknown, what: string): z.output<S> => {
  const parsed = schema.safeParse(event);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidEventError(
      `${what}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
};

/** S3 event keys are URL-encoded with '+' for spaces: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html */
export const decodeEventKey = (key: string): string => decodeURIComponent(key.replace(/\+/g, ' '));
