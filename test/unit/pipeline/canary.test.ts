import { canaryAlarmNames, judgeCanary } from '../../../core/deployment';

describe('the canary judgement', () => {
  it('rolls the challenger back when one of its alarms fired, naming the alarm and why', () => {
    const names = canaryAlarmNames('mlpipe-local', 'penguins');
    const verdict = judgeCanary('job-2', [
      { name: names.errors, state: 'ALARM', reason: 'Threshold Crossed: 1 datapoint [0.4] > 0.05' },
      { name: names.latency, state: 'OK' },
    ]);
    expect(verdict.promote).toBe(false);
    expect(verdict.alarms).toEqual(['mlpipe-local-penguins-challenger-errors']);
    expect(verdict.reason).toContain('mlpipe-local-penguins-challenger-errors (Threshold Crossed');
  });

  it('promotes the challenger when its alarms stayed OK', () => {
    const verdict = judgeCanary('job-2', [
      { name: 'a', state: 'OK' },
      { name: 'b', state: 'OK' },
    ]);
    expect(verdict).toEqual({
      promote: true,
      reason: 'promoted job-2: no alarm fired during the canary window',
      alarms: [],
    });
  });

  it('promotes a challenger that saw no traffic, and says so', () => {
    const verdict = judgeCanary('job-2', [{ name: 'a', state: 'INSUFFICIENT_DATA' }]);
    expect(verdict.promote).toBe(true);
    expect(verdict.reason).toContain('no canary traffic reached a');
  });
});
