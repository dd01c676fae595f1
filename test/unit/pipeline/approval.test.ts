import { ApprovalError, approvalKey, executionName, parseApprovalRequest } from '../../../core/pipeline';

describe('a pending approval', () => {
  it('is found by execution name or by execution ARN', () => {
    const arn = 'arn:aws:states:us-east-1:000000000000:execution:mlpipe-prod-training:penguins-3f2a';
    expect(executionName(arn)).toBe('penguins-3f2a');
    expect(approvalKey(arn)).toBe('approvals/penguins-3f2a.json');
    expect(approvalKey('penguins-3f2a')).toBe('approvals/penguins-3f2a.json');
  });

  it('refuses something that is neither, rather than reading a surprising key', () => {
    expect(() => executionName('../../etc/passwd')).toThrow(ApprovalError);
  });

  it('names the object and the field when the stored request is broken', () => {
    expect(() =>
      parseApprovalRequest(
        JSON.stringify({ pipeline: 'p', execution: 'e', modelVersion: null, requestedAt: 'now' }),
        's3://artifacts/approvals/e.json',
      ),
    ).toThrow('s3://artifacts/approvals/e.json: taskToken:');
    expect(() => parseApprovalRequest('{', 's3://a/b')).toThrow('s3://a/b: not JSON');
  });
});
