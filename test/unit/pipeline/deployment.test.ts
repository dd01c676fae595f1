import {
  chooseVariant,
  DeploymentError,
  emptyDeployment,
  InvalidDeploymentRecordError,
  parseDeploymentRecord,
  promoteChallenger,
  rollBackChallenger,
  startCanary,
} from '../../../core/deployment';

const t0 = new Date('2026-11-01T00:00:00Z');
const t1 = new Date('2026-11-01T00:10:00Z');
const model = (version: string) => ({
  version,
  model: { bucket: 'artifacts', key: `models/penguins/${version}/model.tar.gz` },
});

describe('the deployment record', () => {
  it('makes the first model champion at once, with nothing to canary against', () => {
    const r = startCanary(emptyDeployment('penguins', t0), model('v1'), 0.1, t1, 'gate passed');
    expect(r.champion).toEqual({ ...model('v1'), since: t1.toISOString() });
    expect(r.challenger).toBeNull();
    expect(r.reason).toBe('first model: gate passed');
  });

  it('puts a later model on canary, then promotes it', () => {
    const first = startCanary(emptyDeployment('penguins', t0), model('v1'), 0.1, t0, 'gate passed');
    const canary = startCanary(first, model('v2'), 0.1, t1, 'gate passed');
    expect(canary.champion?.version).toBe('v1');
    expect(canary.challenger).toMatchObject({ version: 'v2', weight: 0.1 });
    const promoted = promoteChallenger(canary, 'v2', t1, 'alarms OK for the canary window');
    expect(promoted).toMatchObject({
      champion: { version: 'v2' },
      challenger: null,
      reason: 'alarms OK for the canary window',
    });
  });

  it('rolls a challenger back with one write and keeps the champion serving', () => {
    const canary = startCanary(
      startCanary(emptyDeployment('p', t0), model('v1'), 0.1, t0, 'a'),
      model('v2'),
      0.2,
      t1,
      'b',
    );
    const rolled = rollBackChallenger(canary, 'v2', t1, 'error-rate alarm in ALARM');
    expect(rolled).toMatchObject({
      champion: { version: 'v1' },
      challenger: null,
      reason: 'error-rate alarm in ALARM',
    });
    expect(() => rollBackChallenger(rolled, 'v2', t1, 'again')).toThrow(DeploymentError);
  });

  it('routes the same id to the same variant every time, in proportion to the weight', () => {
    const canary = startCanary(
      startCanary(emptyDeployment('flights', t0), model('v1'), 0.1, t0, 'a'),
      model('v2'),
      0.2,
      t1,
      'b',
    );
    const ids = Array.from({ length: 20_000 }, (_, i) => `flight-${i}`);
    const first = ids.map((id) => chooseVariant(canary, id));
    expect(ids.map((id) => chooseVariant(canary, id))).toEqual(first);
    const share = first.filter((v) => v === 'challenger').length / ids.length;
    expect(share).toBeGreaterThan(0.18);
    expect(share).toBeLessThan(0.22);
  });

  it('reads a record back and names what is wrong with a broken one', () => {
    const r = startCanary(emptyDeployment('penguins', t0), model('v1'), 0.1, t1, 'x');
    expect(parseDeploymentRecord(JSON.stringify(r), 's3://a/live.json')).toEqual(r);
    expect(() => parseDeploymentRecord('{"pipeline":"p"}', 's3://a/live.json')).toThrow(
      InvalidDeploymentRecordError,
    );
    expect(() => parseDeploymentRecord('{', 's3://a/live.json')).toThrow(/^s3:\/\/a\/live\.json: not JSON/);
  });
});
