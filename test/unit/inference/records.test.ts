import {
  decodeRecord,
  inputValidator,
  POISON_REASONS,
  parseInput,
  predictionJsonWriter,
  predictionsOf,
} from '../../../core/inference';
import { loadSpecFile } from '../../../core/spec/load';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const penguins = loadSpecFile('pipelines/penguins.yml');

describe('decoding an inference event', () => {
  it('takes pipeline and id out of the event and keeps the rest as fields', () => {
    expect(decodeRecord(b64(JSON.stringify({ pipeline: 'penguins', id: 7, Island: 'Dream' })))).toEqual({
      ok: true,
      input: { pipeline: 'penguins', id: '7', fields: { Island: 'Dream' } },
    });
  });

  it.each([
    ['data that is not base64', 'not base64 at all!', POISON_REASONS.badBase64],
    [
      'base64 with a character outside its alphabet',
      `${b64('{"pipeline": "p", "id": 1}').slice(0, -4)}a$b=`,
      POISON_REASONS.badBase64,
    ],
    ['URL-safe base64', b64('{"a":"??>"}').replace(/\+/g, '-').replace(/\//g, '_'), POISON_REASONS.badBase64],
    ['base64 padded in its middle', `YQ==${b64('{"pipeline": "p", "id": 1}')}`, POISON_REASONS.badBase64],
    ['base64 cut short', b64('{"pipeline": "p", "id": 1}').slice(0, -1), POISON_REASONS.badBase64],
    [
      'base64 with a line break',
      `${b64('{"pipeline": "p", "id": 12}').slice(0, -4)}\nabc`,
      POISON_REASONS.badBase64,
    ],
    ['cut-off JSON', b64('{"pipeline": '), POISON_REASONS.badJson],
    ['a JSON string', b64('"a string"'), POISON_REASONS.notAnObject],
    ['a JSON array', b64('[{"pipeline": "penguins"}]'), POISON_REASONS.notAnObject],
    ['an event without pipeline', b64('{"id": "1"}'), POISON_REASONS.missingPipeline],
    ['an event with an empty id', b64('{"pipeline": "penguins", "id": ""}'), POISON_REASONS.missingId],
  ])('names why %s can never be scored', (_label, data, reason) => {
    const decoded = decodeRecord(data);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.poison.reason).toBe(reason);
  });
});

describe('validating an inference input against its spec', () => {
  const validate = inputValidator(penguins);

  it('cleans the fields and does not ask for the target it is about to predict', () => {
    const checked = validate({
      pipeline: 'penguins',
      id: 'a',
      fields: {
        Island: ' Dream ',
        'Beak Length (mm)': '39.1',
        'Beak Depth (mm)': null,
        'Flipper Length (mm)': 181,
        'Body Mass (g)': 3750,
        Sex: 'MALE',
      },
    });
    expect(checked).toMatchObject({
      ok: true,
      input: { fields: { Island: 'Dream', 'Beak Length (mm)': 39.1 } },
    });
  });

  it('names every field that breaks the spec', () => {
    const checked = validate(
      (
        parseInput(
          JSON.stringify({ pipeline: 'penguins', id: 'b', Island: 'Atlantis', 'Body Mass (g)': 'heavy' }),
        ) as {
          input: Parameters<typeof validate>[0];
        }
      ).input,
    );
    expect(checked.ok).toBe(false);
    if (!checked.ok) {
      expect(checked.poison).toMatchObject({
        reason: POISON_REASONS.schemaViolation,
        pipeline: 'penguins',
        id: 'b',
      });
      expect(checked.poison.problems?.map((p) => p.field)).toEqual(
        expect.arrayContaining(['Island', 'Body Mass (g)', 'Beak Length (mm)']),
      );
    }
  });
});

describe('turning one onnxruntime answer into predictions', () => {
  it('keeps the inputs order and names each class probability', () => {
    const inputs = [
      { pipeline: 'penguins', id: 'x', fields: {} },
      { pipeline: 'penguins', id: 'y', fields: {} },
    ];
    const out = predictionsOf(
      inputs,
      {
        predictions: ['Adelie', 'Gentoo'],
        probabilities: new Float32Array([0.9, 0.05, 0.05, 0.1, 0.1, 0.8]),
      },
      { version: 'v1', classes: ['Adelie', 'Chinstrap', 'Gentoo'] },
      'champion',
    );
    expect(out).toEqual([
      {
        id: 'x',
        pipeline: 'penguins',
        modelVersion: 'v1',
        variant: 'champion',
        prediction: 'Adelie',
        probabilities: { Adelie: 0.9, Chinstrap: 0.05, Gentoo: 0.05 },
      },
      {
        id: 'y',
        pipeline: 'penguins',
        modelVersion: 'v1',
        variant: 'champion',
        prediction: 'Gentoo',
        probabilities: { Adelie: 0.1, Chinstrap: 0.1, Gentoo: 0.8 },
      },
    ]);
  });
});

describe('writing predictions as JSON', () => {
  it('writes exactly what JSON.stringify writes, whatever the model, id or value', () => {
    const classes = ['Adelie', 'Chinstrap "C"', 'Gentoo'];
    const inputs = ['x', 'quote " and \\ backslash', 'line\nbreak', 'ünïcode ✓', '42'].map((id) => ({
      pipeline: 'penguins',
      id,
      fields: {},
    }));
    const predictions = [
      ...predictionsOf(
        inputs,
        { predictions: [12.345678, -0.1, Number.NaN, 1e21, 0] },
        { version: 'v1' },
        'champion',
      ),
      ...predictionsOf(
        inputs,
        {
          predictions: ['Adelie', 'Gentoo', 'Chinstrap "C"', 'Adelie', 'Gentoo'],
          probabilities: new Float32Array(Array.from({ length: 15 }, (_, i) => i / 15)),
        },
        { version: 'v2 "quoted"', classes },
        'challenger',
      ),
      ...predictionsOf(inputs, { predictions: [1, 2, 3, 4, 5] }, { version: 'v1' }, 'champion').map((p) => ({
        ...p,
        pipeline: 'flights',
      })),
    ];
    const write = predictionJsonWriter();
    expect(predictions.map(write)).toEqual(predictions.map((p) => JSON.stringify(p)));
  });
});
