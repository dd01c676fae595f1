import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../types';

/**
 * Resolves the CloudFormation intrinsic functions a packaged Serverless template uses (Ref,
 * Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::Split) against the local account and region, so the
 * local cloud creates exactly the names and ARNs AWS would.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
 */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DependsOn?: string | string[];
  readonly DeletionPolicy?: string;
  readonly [key: string]: unknown;
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs?: Record<string, { Value: unknown }>;
}

export class TemplateError extends Error {
  override name = 'TemplateError';
}

const PSEUDO: Record<string, string> = {
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT_ID,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::NoValue': '',
};

const arnOf = (type: string, name: string): string => {
  switch (type) {
    case 'AWS::S3::Bucket':
      return `arn:aws:s3:::${name}`;
    case 'AWS::Kinesis::Stream':
      return `arn:aws:kinesis:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stream/${name}`;
    case 'AWS::Lambda::Function':
      return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${name}`;
    case 'AWS::SQS::Queue':
      return `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${name}`;
    case 'AWS::SNS::Topic':
      return `arn:aws:sns:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${name}`;
    case 'AWS::IAM::Role':
      return `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${name}`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:${name}`;
    case 'AWS::Logs::LogGroup':
      return `arn:aws:logs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:log-group:${name}:*`;
    default:
      return `arn:aws:local:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${type}/${name}`;
  }
};

const NAME_PROPERTY: Record<string, string> = {
  'AWS::S3::Bucket': 'BucketName',
  'AWS::Kinesis::Stream': 'Name',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::Athena::WorkGroup': 'Name',
  'AWS::SageMaker::ModelPackageGroup': 'ModelPackageGroupName',
  'AWS::CloudWatch::Alarm': 'AlarmName',
};

export class TemplateResolver {
  constructor(
    private readonly template: CfnTemplate,
    private readonly stackName: string,
    /** Queue URLs point at the local SQS endpoint, as AWS's point at sqs.<region>.amazonaws.com. */
    private readonly sqsEndpoint = `https://sqs.${LOCAL_REGION}.amazonaws.com`,
  ) {}

  /** The physical name of a resource: its name property, or a CloudFormation-style generated one. */
  physicalName(logicalId: string): string {
    const resource = this.template.Resources[logicalId];
    if (!resource) throw new TemplateError(`no resource ${logicalId} in the template`);
    const property = NAME_PROPERTY[resource.Type];
    const named = property ? resource.Properties?.[property] : undefined;
    if (named !== undefined) return String(this.resolve(named));
    return `${this.stackName}-${logicalId}`.toLowerCase().slice(0, 63);
  }

  ref(name: string): string {
    if (name in PSEUDO) return PSEUDO[name] as string;
    if (name === 'AWS::StackName') return this.stackName;
    const resource = this.template.Resources[name];
    if (!resource) throw new TemplateError(`Ref to unknown resource ${name}`);
    const physical = this.physicalName(name);
    switch (resource.Type) {
      case 'AWS::SQS::Queue':
        return `${this.sqsEndpoint}/${LOCAL_ACCOUNT_ID}/${physical}`;
      case 'AWS::SNS::Topic':
      case 'AWS::StepFunctions::StateMachine':
        return arnOf(resource.Type, physical);
      default:
        return physical;
    }
  }

  getAtt(name: string, attribute: string): string {
    const resource = this.template.Resources[name];
    if (!resource) throw new TemplateError(`Fn::GetAtt of unknown resource ${name}`);
    const physical = this.physicalName(name);
    if (attribute === 'Arn') return arnOf(resource.Type, physical);
    if (attribute === 'QueueUrl') return this.ref(name);
    if (attribute === 'QueueName' || attribute === 'Name' || attribute === 'TopicName') return physical;
    throw new TemplateError(`Fn::GetAtt ${name}.${attribute} is not supported locally`);
  }

  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [[fn, arg]] = entries as [[string, unknown]];
      switch (fn) {
        case 'Ref':
          return this.ref(String(arg));
        case 'Fn::GetAtt': {
          const [name, attribute] = Array.isArray(arg) ? arg : String(arg).split('.');
          return this.getAtt(String(name), String(attribute));
        }
        case 'Fn::Join': {
          const [separator, parts] = arg as [string, unknown[]];
          return (this.resolve(parts) as unknown[]).join(separator);
        }
        case 'Fn::Select': {
          const [index, list] = arg as [number | string, unknown];
          return (this.resolve(list) as unknown[])[Number(index)];
        }
        case 'Fn::Split': {
          const [separator, text] = arg as [string, unknown];
          return String(this.resolve(text)).split(separator);
        }
        case 'Fn::Sub':
          return this.sub(arg);
      }
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, this.resolve(v)]));
  }

  private sub(arg: unknown): string {
    const [text, variables] = Array.isArray(arg)
      ? (arg as [string, Record<string, unknown>])
      : [String(arg), {}];
    return text.replace(/\$\{([^}]+)\}/g, (_, expression: string) => {
      if (expression.startsWith('!')) return `\${${expression.slice(1)}}`;
      if (expression in variables) return String(this.resolve(variables[expression]));
      const [name, attribute] = expression.split('.') as [string, string | undefined];
      return attribute ? this.getAtt(name, attribute) : this.ref(name);
    });
  }
}
