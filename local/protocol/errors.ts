/** Base of the local cloud's errors. */
export class LocalCloudError extends Error {
  override name = 'LocalCloudError';
}

/** Another process holds the port: named, so the user knows which one to free or pass to --port. */
export class PortInUseError extends LocalCloudError {
  override name = 'PortInUseError';
  constructor(
    readonly port: number,
    options?: ErrorOptions,
  ) {
    super(`port ${port} on 127.0.0.1 is already in use; stop what holds it or pass another --port`, options);
  }
}

/**
 * An error answered to the client the way AWS answers it: `code` becomes the SDK exception name
 * (`__type` of the JSON protocols), so Retry/Catch and SDK `instanceof` checks see the same error
 * they would see from AWS.
 */
export class AwsServiceError extends LocalCloudError {
  override name = 'AwsServiceError';
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export const validationError = (message: string): AwsServiceError =>
  new AwsServiceError('ValidationException', message);
export const notFound = (code: string, message: string): AwsServiceError =>
  new AwsServiceError(code, message, 400);
