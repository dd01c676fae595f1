import { HyperparameterError, parseHyperparameters } from '../../../trainers/gbdt/hyperparameters';

describe('trainer hyperparameters', () => {
  it('reads the strings SageMaker passes, with the XGBoost defaults for the rest', () => {
    const p = parseHyperparameters({
      objective: 'binary:logistic',
      num_round: '50',
      eta: '0.05',
      drop: 'Name, Year',
    });
    expect(p).toMatchObject({
      objective: 'binary:logistic',
      num_round: 50,
      eta: 0.05,
      max_depth: 6,
      lambda: 1,
      subsample: 1,
      num_class: 2,
      target: 'label',
      drop: ['Name', 'Year'],
    });
  });

  it.each([
    [{ num_round: '0' }, 'hyperparameter num_round: expected a whole number in [1, 100000], got "0"'],
    [{ eta: '1.5' }, 'hyperparameter eta: expected a number in (0, 1], got "1.5"'],
    [{ eta: '0' }, 'hyperparameter eta: expected a number in (0, 1], got "0"'],
    [{ max_depth: 'deep' }, 'hyperparameter max_depth: expected a whole number in [1, 16], got "deep"'],
    [{ subsample: '' }, 'hyperparameter subsample: expected a number in (0, 1], got ""'],
    [{ lambda: '-1' }, 'hyperparameter lambda: expected a number in [0, ∞), got "-1"'],
    [
      { objective: 'rank:pairwise' },
      'hyperparameter objective: expected one of reg:squarederror, binary:logistic, multi:softprob, got "rank:pairwise"',
    ],
    [{ objective: 'multi:softprob' }, 'hyperparameter num_class: required with objective multi:softprob'],
    [{ learning_rate: '0.1' }, 'hyperparameter learning_rate: unknown; known:'],
  ])('rejects %j naming the hyperparameter and what it allows', (raw, message) => {
    expect(() => parseHyperparameters(raw)).toThrow(HyperparameterError);
    expect(() => parseHyperparameters(raw)).toThrow(message);
  });
});
