import { ApprovalError, executionArn, executionName, pendingTaskToken } from '../../../core/pipeline';

const scheduled = (id: number, payload: Record<string, unknown>) => ({
  id,
  type: 'TaskScheduled',
  taskScheduledEventDetails: { parameters: JSON.stringify({ FunctionName: 'notify', Payload: payload }) },
});

describe('approving a model', () => {
  it('finds the execution by name or by ARN', () => {
    const machine = 'arn:aws:states:us-east-1:000000000000:stateMachine:mlpipe-prod-training';
    const arn = 'arn:aws:states:us-east-1:000000000000:execution:mlpipe-prod-training:penguins-3f2a';
    expect(executionName(arn)).toBe('penguins-3f2a');
    expect(executionArn(machine, 'penguins-3f2a')).toBe(arn);
    expect(executionArn(machine, arn)).toBe(arn);
  });

  it('refuses something that is neither, rather than guessing', () => {
    expect(() => executionName('../../etc/passwd')).toThrow(ApprovalError);
  });

  it('finds the token of the task that waits for a person in the execution history', () => {
    const events = [
      scheduled(5, { outcome: 'deployed' }),
      { id: 6, type: 'TaskSucceeded' },
      scheduled(9, { outcome: 'waiting-for-approval', taskToken: 'tok-1' }),
      { id: 10, type: 'TaskStarted' },
      { id: 11, type: 'TaskSubmitted' },
    ];
    expect(pendingTaskToken(events)).toBe('tok-1');
  });

  it('finds no token once that task has been answered', () => {
    const events = [scheduled(9, { taskToken: 'tok-1' }), { id: 12, type: 'TaskSucceeded' }];
    expect(pendingTaskToken(events)).toBeUndefined();
    expect(pendingTaskToken([])).toBeUndefined();
  });

  it('finds no token once the execution has stopped, so a stopped run cannot be approved', () => {
    const events = [scheduled(9, { taskToken: 'tok-1' }), { id: 12, type: 'ExecutionAborted' }];
    expect(pendingTaskToken(events)).toBeUndefined();
  });
});
