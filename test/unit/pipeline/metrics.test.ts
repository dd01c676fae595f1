import { classificationMetrics, regressionMetrics, rocAuc } from '../../../core/metrics';

describe('evaluation metrics', () => {
  it('computes RMSE, MAE and R² of a regression', () => {
    const m = regressionMetrics({ actual: [1, 2, 3, 4], predicted: [1, 2, 3, 6] });
    expect(m.rmse).toBeCloseTo(1, 12);
    expect(m.mae).toBeCloseTo(0.5, 12);
    expect(m.r2).toBeCloseTo(1 - 4 / 5, 12);
    expect(m.count).toBe(4);
  });

  it('computes accuracy, macro-F1 and log loss of a multiclass model', () => {
    // Three rows, three classes; the last row is wrong (class 2 predicted as 0).
    const probabilities = [0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.6, 0.1, 0.3];
    const m = classificationMetrics({ actual: [0, 1, 2], probabilities, classCount: 3 });
    expect(m.accuracy).toBeCloseTo(2 / 3, 12);
    // class 0: tp 1 fp 1 fn 0 → F1 2/3; class 1: 1; class 2: tp 0 fn 1 → 0.
    expect(m.f1).toBeCloseTo((2 / 3 + 1 + 0) / 3, 12);
    expect(m.logloss).toBeCloseTo(-(Math.log(0.8) + Math.log(0.7) + Math.log(0.3)) / 3, 12);
    expect(m.auc).toBeUndefined();
  });

  it('adds AUC for a binary model, scored from the positive-class probability', () => {
    const m = classificationMetrics({
      actual: [0, 0, 1, 1],
      probabilities: [0.1, 0.4, 0.35, 0.8],
      classCount: 2,
    });
    expect(m.auc).toBeCloseTo(0.75, 12);
    expect(m.accuracy).toBeCloseTo(0.75, 12);
  });

  it('gives tied scores their average rank in AUC and NaN when only one class is present', () => {
    expect(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])).toBeCloseTo(0.5, 12);
    expect(rocAuc([1, 1], [0.2, 0.9])).toBeNaN();
  });

  it('keeps log loss finite when a model is certain and wrong', () => {
    const m = classificationMetrics({ actual: [1], probabilities: [0], classCount: 2 });
    expect(Number.isFinite(m.logloss)).toBe(true);
    expect(m.logloss).toBeGreaterThan(30);
  });
});
