import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { readBundle } from '../../../core/model';
import { ServingModels } from '../../../functions/infer/models';
import { type LocalCloud, startLocalCloud } from '../../../local/cloud';
import { localS3Config } from '../../../local/types';
import { jsonDataset } from '../../support/datasets';
import { modelKey, PENGUIN_HYPERPARAMETERS, trainModel } from '../../support/models';

const ARTIFACTS = 'mlpipe-local-artifacts';

/**
 * One inference instance serving several pipelines: models load on first use, stay in memory while
 * the budget allows, and the least recently used goes first; an evicted model comes back from the
 * instance's /tmp without another download.
 */
describe("the inference function's models, several pipelines on one instance", () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-models-'));
  const penguins = jsonDataset('penguins.json');
  const cars = jsonDataset('cars.json').filter((r) => r.Miles_per_Gallon !== null);
  let cloud: LocalCloud;
  let s3: S3Client;
  const sizes: Record<string, number> = {};

  beforeAll(async () => {
    cloud = await startLocalCloud({ dataDir, port: 0 });
    s3 = new S3Client(localS3Config(cloud.s3.url));
    const work = join(dataDir, 'models');
    const models = [
      ['penguins', 'penguins-a', penguins, { ...PENGUIN_HYPERPARAMETERS, num_round: '20' }],
      ['penguins', 'penguins-b', penguins, { ...PENGUIN_HYPERPARAMETERS, num_round: '30' }],
      [
        'cars',
        'cars-a',
        cars,
        {
          objective: 'reg:squarederror',
          num_round: '40',
          max_depth: '4',
          target: 'Miles_per_Gallon',
          pipeline: 'cars',
        },
      ],
    ] as const;
    for (const [pipeline, version, rows, hyperparameters] of models) {
      const file = await trainModel(work, version, rows, hyperparameters);
      sizes[version] = (await readBundle(file)).onnx.byteLength;
      await s3.send(
        new PutObjectCommand({
          Bucket: ARTIFACTS,
          Key: modelKey(pipeline, version),
          Body: readFileSync(file),
        }),
      );
    }
  }, 120_000);
  afterAll(async () => {
    s3.destroy();
    await cloud.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const where = (pipeline: string, version: string) => ({
    bucket: ARTIFACTS,
    key: modelKey(pipeline, version),
  });

  it('keeps the most recently used models within the memory budget and brings an evicted one back from /tmp', async () => {
    // Room for any two of the three models (each charged at three times its ONNX size), not all three.
    const charged = Object.values(sizes)
      .map((s) => s * 3)
      .sort((a, b) => b - a);
    const models = new ServingModels(s3, {
      artifactsBucket: ARTIFACTS,
      scratchDir: join(dataDir, 'instance-tmp'),
      recordTtlMs: 1000,
      memoryBudgetBytes: (charged[0] ?? 0) + (charged[1] ?? 0),
      scorerThreads: 0,
    });
    try {
      const penguinA = await models.model('penguins-a', where('penguins', 'penguins-a'));
      await models.model('cars-a', where('cars', 'cars-a'));
      expect(models.resident).toEqual(['penguins-a', 'cars-a']);

      // Used again, penguins-a is now the most recent: loading a third model evicts cars-a.
      expect(await models.model('penguins-a', where('penguins', 'penguins-a'))).toBe(penguinA);
      await models.model('penguins-b', where('penguins', 'penguins-b'));
      expect(models.resident).toEqual(['penguins-a', 'penguins-b']);

      // Gone from S3, cars-a still loads: its checked bundle is in the instance's /tmp.
      await s3.send(new DeleteObjectCommand({ Bucket: ARTIFACTS, Key: modelKey('cars', 'cars-a') }));
      const carsAgain = await models.model('cars-a', where('cars', 'cars-a'));
      expect(models.resident).toEqual(['penguins-b', 'cars-a']);

      const car = cars[0] as Record<string, unknown>;
      const scored = await carsAgain.predict([car]);
      expect(scored.predictions).toHaveLength(1);
      expect(Math.abs(Number(scored.predictions[0]) - Number(car.Miles_per_Gallon))).toBeLessThan(8);
      const penguin = penguins[0] as Record<string, unknown>;
      const species = await (await models.model('penguins-b', where('penguins', 'penguins-b'))).predict([
        penguin,
      ]);
      expect(species.predictions).toEqual([penguin.Species]);
    } finally {
      await models.release();
    }
  });
});
