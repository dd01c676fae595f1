import { parseEnvFile, useLocalCloud } from '../../../cli/aws';
import { UsageError } from '../../../cli/command';
import { main } from '../../../cli/main';
import { parseArgs } from '../../../cli/options';

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
};

describe('command-line options', () => {
  it('reads flags with a value, inline or separate, booleans and positional arguments', () => {
    const parsed = parseArgs(['run', '--stage', 'prod', '--json', 'file.csv', '--reason=bad labels'], {
      stage: 'string',
      json: 'boolean',
      reason: 'string',
    });
    expect(parsed.flags).toEqual({ stage: 'prod', json: true, reason: 'bad labels' });
    expect(parsed.positional).toEqual(['run', 'file.csv']);
  });

  it('names an unknown or incomplete flag instead of ignoring it', () => {
    expect(() => parseArgs(['--stge', 'prod'], { stage: 'string' })).toThrow(
      new UsageError('unknown option --stge'),
    );
    expect(() => parseArgs(['--stage'], { stage: 'string' })).toThrow('--stage needs a value');
  });

  it('reads the endpoints file the local cloud writes', () => {
    expect(
      parseEnvFile(
        '# local cloud\nexport AWS_ENDPOINT_URL_SFN=http://127.0.0.1:4571\nAWS_REGION="us-east-1"\n',
      ),
    ).toEqual({ AWS_ENDPOINT_URL_SFN: 'http://127.0.0.1:4571', AWS_REGION: 'us-east-1' });
  });

  it('says how to start a local cloud when none runs in the data folder', async () => {
    await expect(useLocalCloud('/nonexistent/mlpipe')).rejects.toThrow(
      'start one with `mlpipe local --data-dir /nonexistent/mlpipe`',
    );
  });
});

describe('mlpipe reject', () => {
  it('insists on a reason, because it is recorded in the model registry', async () => {
    const { io, err } = capture();
    expect(await main(['reject', 'penguins-1'], io)).toBe(2);
    expect(err[0]).toBe('mlpipe reject: --reason is required: say why, it is recorded');
  });

  it('expects exactly one execution', async () => {
    const { io, err } = capture();
    expect(await main(['approve'], io)).toBe(2);
    expect(err[0]).toBe('mlpipe approve: expected exactly one execution name or ARN');
  });
});
