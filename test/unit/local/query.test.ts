import { parseQuery, type QueryDialect, queryError, queryResponse } from '../../../local/protocol/query';

const sqs: QueryDialect = {
  namespace: 'http://queue.amazonaws.com/doc/2012-11-05/',
  inputNames: {
    AttributeName: 'AttributeNames',
    Attribute: 'Attributes',
    SendMessageBatchRequestEntry: 'Entries',
  },
  inputMaps: ['Attributes'],
  flattened: { Messages: 'Message' },
  flattenedMaps: { Attributes: 'Attribute' },
  errorCodes: { QueueDoesNotExist: 'AWS.SimpleQueueService.NonExistentQueue' },
};
const cloudwatch: QueryDialect = {
  namespace: 'http://monitoring.amazonaws.com/doc/2010-08-01/',
  maps: ['ExtendedStatistics'],
};

describe('the query protocol of the local cloud', () => {
  it('reads numbered and member lists, renamed members and Name/Value maps into the JSON input', () => {
    expect(
      parseQuery(
        'Action=SendMessageBatch&Version=2012-11-05&QueueUrl=http%3A%2F%2Fq&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=x%26y&SendMessageBatchRequestEntry.2.Id=b&AttributeName.1=All&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=5',
        sqs,
      ),
    ).toEqual({
      action: 'SendMessageBatch',
      input: {
        QueueUrl: 'http://q',
        Entries: [{ Id: 'a', MessageBody: 'x&y' }, { Id: 'b' }],
        AttributeNames: ['All'],
        Attributes: { VisibilityTimeout: '5' },
      },
    });
    expect(
      parseQuery(
        'Action=PutMetricData&Namespace=ns&MetricData.member.1.MetricName=Latency&MetricData.member.1.Dimensions.member.1.Name=Pipeline&MetricData.member.1.Dimensions.member.1.Value=p&MetricData.member.1.Values.member.1=10&MetricData.member.1.Values.member.2=20',
        cloudwatch,
      ).input,
    ).toEqual({
      Namespace: 'ns',
      MetricData: [
        { MetricName: 'Latency', Dimensions: [{ Name: 'Pipeline', Value: 'p' }], Values: ['10', '20'] },
      ],
    });
  });

  it('ignores a parameter whose name would reach Object.prototype', () => {
    const { input } = parseQuery(
      'Action=GetQueueUrl&__proto__.polluted=yes&a.constructor.b=1&QueueName=q',
      sqs,
    );
    expect(input).toEqual({ QueueName: 'q' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('writes flattened or member lists, both kinds of maps, ISO timestamps and escaped text', () => {
    expect(
      queryResponse(
        'ReceiveMessage',
        { Messages: [{ Body: '<a & "b">', Attributes: { ApproximateReceiveCount: '1' } }] },
        sqs,
      ),
    ).toMatch(
      /^<ReceiveMessageResponse xmlns="http:\/\/queue\.amazonaws\.com\/doc\/2012-11-05\/"><ReceiveMessageResult><Message><Body>&lt;a &amp; &quot;b&quot;&gt;<\/Body><Attribute><Name>ApproximateReceiveCount<\/Name><Value>1<\/Value><\/Attribute><\/Message><\/ReceiveMessageResult><ResponseMetadata><RequestId>[-0-9a-f]+<\/RequestId><\/ResponseMetadata><\/ReceiveMessageResponse>$/,
    );
    const xml = queryResponse(
      'GetMetricStatistics',
      { Label: 'L', Datapoints: [{ Timestamp: 1_795_500_000, Sum: 60, ExtendedStatistics: { p50: 20 } }] },
      cloudwatch,
    );
    expect(xml).toContain(
      '<Label>L</Label><Datapoints><member><Timestamp>2026-11-24T06:00:00.000Z</Timestamp><Sum>60</Sum><ExtendedStatistics><entry><key>p50</key><value>20</value></entry></ExtendedStatistics></member></Datapoints>',
    );
  });

  it('answers an error with the code the query protocol spells, as the sender’s or the service’s fault', () => {
    expect(queryError('QueueDoesNotExist', 'no queue <q>', 400, sqs)).toMatch(
      /<Error><Type>Sender<\/Type><Code>AWS\.SimpleQueueService\.NonExistentQueue<\/Code><Message>no queue &lt;q&gt;<\/Message><\/Error>/,
    );
    expect(queryError('InternalFailure', 'boom', 500, cloudwatch)).toContain(
      '<Type>Receiver</Type><Code>InternalFailure</Code>',
    );
  });
});
