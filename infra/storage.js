// The three data buckets share one hardened shape; only their lifecycle rules differ.
// Resolved by serverless.yml through `${file(./infra/storage.js):resources}`.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const tlsOnlyPolicy = (bucketLogicalId) => ({
  Type: 'AWS::S3::BucketPolicy',
  Properties: {
    Bucket: { Ref: bucketLogicalId },
    PolicyDocument: {
      Version: '2012-10-17',
      Statement: [
        {
          // https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html#transit
          Sid: 'DenyInsecureTransport',
          Effect: 'Deny',
          Principal: '*',
          Action: 's3:*',
          Resource: [
            { 'Fn::GetAtt': [bucketLogicalId, 'Arn'] },
            { 'Fn::Sub': `\${${bucketLogicalId}.Arn}/*` },
          ],
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
      ],
    },
  },
});

const expire = (id, prefix, days) => ({ Id: id, Status: 'Enabled', Prefix: prefix, ExpirationInDays: days });

const bucket = (name, deletionPolicy, rules, extra = {}) => ({
  Type: 'AWS::S3::Bucket',
  DeletionPolicy: deletionPolicy,
  UpdateReplacePolicy: deletionPolicy,
  Properties: {
    BucketName: name,
    BucketEncryption: {
      ServerSideEncryptionConfiguration: [
        { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: true },
      ],
    },
    PublicAccessBlockConfiguration: {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    },
    OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    VersioningConfiguration: { Status: 'Enabled' },
    LifecycleConfiguration: { Rules: rules },
    ...extra,
  },
});

module.exports.resources = async ({ resolveVariable }) => {
  const p = async (name) => resolveVariable(`param:${name}`);
  const names = await resolveVariable('self:custom.names');
  const deletion = await p('dataDeletionPolicy');
  const rawDays = Number(await p('rawRetentionDays'));
  const quarantineDays = Number(await p('quarantineRetentionDays'));
  const noncurrentDays = Number(await p('noncurrentRetentionDays'));
  const noncurrent = {
    Id: 'expire-noncurrent-versions',
    Status: 'Enabled',
    NoncurrentVersionExpiration: { NoncurrentDays: noncurrentDays },
  };
  const abortUploads = {
    Id: 'abort-incomplete-uploads',
    Status: 'Enabled',
    AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
  };
  // Ingest runs on every object created under incoming/, batch inference on batch-input/. A
  // function's permission must exist before S3 accepts the notification configuration, hence the
  // DependsOn. https://docs.aws.amazon.com/AmazonS3/latest/userguide/NotificationHowTo.html
  const has = (dir) => existsSync(join(__dirname, '..', 'functions', dir, 'function.yml'));
  const targets = [
    ...(has('ingest')
      ? [{ prefix: 'incoming/', logicalId: 'IngestLambdaFunction', permission: 'IngestS3InvokePermission' }]
      : []),
    ...(has('infer')
      ? [
          {
            prefix: 'batch-input/',
            logicalId: 'InferDashbatchLambdaFunction',
            permission: 'InferBatchS3InvokePermission',
          },
        ]
      : []),
  ];
  const rawNotifications =
    targets.length > 0
      ? {
          DependsOn: targets.map((t) => t.permission),
          Properties: {
            NotificationConfiguration: {
              LambdaConfigurations: targets.map((t) => ({
                Event: 's3:ObjectCreated:*',
                Function: { 'Fn::GetAtt': [t.logicalId, 'Arn'] },
                Filter: { S3Key: { Rules: [{ Name: 'prefix', Value: t.prefix }] } },
              })),
            },
          },
        }
      : undefined;
  const raw = bucket(names.rawBucket, deletion, [
    expire('expire-incoming', 'incoming/', rawDays),
    expire('expire-quarantine', 'quarantine/', quarantineDays),
    expire('expire-batch-input', 'batch-input/', rawDays),
    noncurrent,
    abortUploads,
  ]);
  return {
    RawBucket: rawNotifications
      ? {
          ...raw,
          DependsOn: rawNotifications.DependsOn,
          Properties: { ...raw.Properties, ...rawNotifications.Properties },
        }
      : raw,
    ...Object.fromEntries(
      targets.map((t) => [
        t.permission,
        {
          Type: 'AWS::Lambda::Permission',
          Properties: {
            FunctionName: { 'Fn::GetAtt': [t.logicalId, 'Arn'] },
            Action: 'lambda:InvokeFunction',
            Principal: 's3.amazonaws.com',
            SourceArn: `arn:aws:s3:::${names.rawBucket}`,
            SourceAccount: { Ref: 'AWS::AccountId' },
          },
        },
      ]),
    ),
    RawBucketPolicy: tlsOnlyPolicy('RawBucket'),
    CuratedBucket: bucket(names.curatedBucket, deletion, [
      expire('expire-quarantine', 'quarantine/', quarantineDays),
      noncurrent,
      abortUploads,
    ]),
    CuratedBucketPolicy: tlsOnlyPolicy('CuratedBucket'),
    // Models, evaluations, reports and deployment records. Versioned: the versions of
    // deployments/<pipeline>/live.json ARE the deployment history, so they are never expired.
    ArtifactsBucket: bucket(names.artifactsBucket, 'Retain', [
      expire('expire-athena-results', 'athena-results/', 7),
      { ...noncurrent, Id: 'expire-noncurrent-except-deployments', Prefix: 'models/' },
      abortUploads,
    ]),
    ArtifactsBucketPolicy: tlsOnlyPolicy('ArtifactsBucket'),
  };
};
