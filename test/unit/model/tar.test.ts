import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { InvalidBundleError, readBundle } from '../../../core/model';
import { packTarGz, TarFormatError, unpackTarGz } from '../../../core/model/tar';
import { jsonDataset } from '../../support/datasets';
import { PENGUIN_HYPERPARAMETERS, trainModel } from '../../support/models';

describe('model.tar.gz read and written in memory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-tar-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251);

  it('reads back exactly what it wrote, and writes the same bytes every time', () => {
    const files = [
      { name: 'manifest.json', bytes: Buffer.from('{"a":1}') },
      { name: 'model.onnx', bytes: bytes(70_000, 3) },
      { name: 'empty', bytes: new Uint8Array(0) },
      { name: 'exactly-one-block', bytes: bytes(512, 9) },
    ];
    const packed = packTarGz(files);
    expect(packTarGz(files).equals(packed)).toBe(true);
    const read = unpackTarGz(packed, 'm.tar.gz');
    expect([...read.keys()]).toEqual(files.map((f) => f.name));
    for (const f of files)
      expect(Buffer.from(read.get(f.name) ?? []).equals(Buffer.from(f.bytes))).toBe(true);
  });

  it('reads a bundle of several megabytes whole, and refuses one whose gzip trailer misstates its size', () => {
    const files = [
      { name: 'manifest.json', bytes: Buffer.from('{"c":3}') },
      { name: 'model.onnx', bytes: bytes(5_000_000, 7) },
    ];
    const packed = packTarGz(files);
    const read = unpackTarGz(packed, 'big.tar.gz');
    expect(Buffer.from(read.get('model.onnx') ?? []).equals(Buffer.from(files[1]?.bytes ?? []))).toBe(true);
    // ISIZE, the trailer's last four bytes, is what the output buffer is sized by: a false one is
    // caught by zlib's own length check.
    const lying = Buffer.from(packed);
    lying.writeUInt32LE(0xffffffff, lying.length - 4);
    expect(() => unpackTarGz(lying, 'lying.tar.gz')).toThrow(TarFormatError);
    expect(() => unpackTarGz(lying, 'lying.tar.gz')).toThrow(/lying\.tar\.gz: not a gzip file/);
  });

  it('reads what node-tar writes: ./ prefixes, folders, and names too long for ustar (pax)', async () => {
    const src = join(dir, 'src');
    const long = `${'very-long-folder-name-'.repeat(6)}/model.onnx`;
    mkdirSync(join(src, long, '..'), { recursive: true });
    writeFileSync(join(src, 'manifest.json'), '{"b":2}');
    writeFileSync(join(src, long), bytes(1_000, 5));
    const file = join(dir, 'node-tar.tar.gz');
    await tar.c({ gzip: true, file, cwd: src }, ['./manifest.json', long.split('/')[0] as string]);
    const read = unpackTarGz(readFileSync(file), file);
    expect(Buffer.from(read.get('manifest.json') ?? []).toString()).toBe('{"b":2}');
    expect(read.get(long)?.length).toBe(1_000);
    expect(long.length).toBeGreaterThan(100);
  });

  it('refuses a file that is not gzip, a damaged header and a truncated archive, naming the file', () => {
    expect(() => unpackTarGz(Buffer.from('plain text'), 'x.tar.gz')).toThrow(TarFormatError);
    expect(() => unpackTarGz(Buffer.from('plain text'), 'x.tar.gz')).toThrow(
      'x.tar.gz: not a gzip file (incorrect header check)',
    );
    const raw = gunzipSync(packTarGz([{ name: 'model.onnx', bytes: bytes(2_000, 1) }]));
    const damaged = Buffer.from(raw);
    damaged[10] = 0x41;
    expect(() => unpackTarGz(gzipSync(damaged), 'd.tar.gz')).toThrow(
      'd.tar.gz: damaged tar header at byte 0',
    );
    expect(() => unpackTarGz(gzipSync(raw.subarray(0, 1_024)), 't.tar.gz')).toThrow(
      't.tar.gz: truncated: an entry of 2000 bytes at byte 512 runs past the end',
    );
  });

  it('loads a trained bundle from its archive, and names what an archive without model.onnx lacks', async () => {
    const penguins = jsonDataset('penguins.json');
    const file = await trainModel(dir, 'tiny', penguins, { ...PENGUIN_HYPERPARAMETERS, num_round: '3' });
    const bundle = await readBundle(file);
    expect(bundle.manifest.classes).toEqual(expect.arrayContaining(['Adelie']));
    const files = unpackTarGz(readFileSync(file), file);
    const partial = join(dir, 'partial.tar.gz');
    writeFileSync(
      partial,
      packTarGz([{ name: 'manifest.json', bytes: files.get('manifest.json') ?? new Uint8Array() }]),
    );
    await expect(readBundle(partial)).rejects.toThrow(InvalidBundleError);
    await expect(readBundle(partial)).rejects.toThrow(
      `${partial}: has no model.onnx (it holds manifest.json)`,
    );
  });
});
