/**
 * The contract between the pieces of the local cloud. Each emulated service starts on its own
 * loopback port and is reached ONLY through the AWS wire protocol (the real SDK v3 clients with
 * endpoint overrides), so services never import each other: Step Functions calls the local Lambda,
 * SageMaker and Athena endpoints with SDK clients, exactly as it would call AWS.
 */
export const LOCAL_HOST = '127.0.0.1';
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT_ID = '000000000000';
/** s3rver accepts only this key pair (see TOOLCHAIN.md); every local service accepts it too. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** What an SDK client needs to reach a local endpoint. */
export const localClientConfig = (endpoint: string) =>
  ({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint }) as const;

/** S3 also wants path-style addresses and checksums only where required: s3rver knows neither default. */
export const localS3Config = (endpoint: string) =>
  ({
    ...localClientConfig(endpoint),
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  }) as const;

/**
 * Services in port order: `mlpipe local --port N` gives the first N, the next N+1, and so on.
 * The key is the suffix of the SDK's `AWS_ENDPOINT_URL_<SERVICE>` variable.
 */
export const LOCAL_SERVICES = [
  'S3',
  'KINESIS',
  'LAMBDA',
  'SFN',
  'SAGEMAKER',
  'ATHENA',
  'GLUE',
  'CLOUDWATCH',
  'SNS',
  'EVENTBRIDGE',
  'SQS',
] as const;
export type LocalServiceKey = (typeof LOCAL_SERVICES)[number];

export type Endpoints = Readonly<Record<LocalServiceKey, string>>;

/** What every service module's `start…` function returns. */
export interface RunningService {
  readonly key: LocalServiceKey;
  readonly url: string;
  stop(): Promise<void>;
}

/** What every service module's `start…` function receives. */
export interface ServiceOptions {
  readonly port: number;
  /** The service keeps ALL its state below this folder, so a restart loses nothing. */
  readonly dataDir: string;
  /** Every endpoint of the local cloud, for services that call other services over the wire. */
  readonly endpoints: Endpoints;
}
