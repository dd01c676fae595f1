import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { type ModelManifest, manifestSchema } from './manifest';

export class ModelError extends Error {
  override name = 'ModelError';
}
/** The ONNX file does not match the SHA-256 in its manifest: never load such a model. */
export class ModelIntegrityError extends ModelError {
  override name = 'ModelIntegrityError';
}
export class InvalidManifestError extends ModelError {
  override name = 'InvalidManifestError';
}

export interface ModelBundle {
  readonly manifest: ModelManifest;
  readonly onnx: Uint8Array;
}

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export const parseManifest = (text: string, where: string): ModelManifest => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new InvalidManifestError(`${where}: not JSON`, { cause });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidManifestError(
      `${where}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
};

const readDirectory = (dir: string, where: string): ModelBundle => {
  const manifest = parseManifest(readFileSync(join(dir, 'manifest.json'), 'utf8'), `${where}: manifest.json`);
  const onnx = new Uint8Array(readFileSync(join(dir, manifest.onnx.file)));
  const actual = sha256(onnx);
  if (actual !== manifest.onnx.sha256) {
    throw new ModelIntegrityError(
      `${where}: model.onnx has SHA-256 ${actual}, but manifest.json says ${manifest.onnx.sha256}; refusing to load it`,
    );
  }
  return { manifest, onnx };
};

/** Reads a model directory or a model.tar.gz, checking the ONNX file against its SHA-256. */
export const readBundle = async (path: string): Promise<ModelBundle> => {
  if (statSync(path).isDirectory()) return readDirectory(path, path);
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-model-'));
  try {
    await tar.x({ file: path, cwd: dir, strict: true });
    return readDirectory(dir, path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

/** Writes model.onnx and manifest.json into `dir` (the SageMaker model folder). */
export const writeBundle = (
  dir: string,
  manifest: Omit<ModelManifest, 'onnx'>,
  onnx: Uint8Array,
  outputs: string[],
): ModelManifest => {
  const full: ModelManifest = {
    ...manifest,
    onnx: { file: 'model.onnx', sha256: sha256(onnx), inputName: 'input', outputs },
  };
  writeFileSync(join(dir, 'model.onnx'), onnx);
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(full, null, 2)}\n`);
  return full;
};

/** Packs a model folder as SageMaker does: model.tar.gz with the files at its root. */
export const packBundle = async (dir: string, file: string): Promise<void> => {
  await tar.c({ gzip: true, file, cwd: dir, portable: true }, ['manifest.json', 'model.onnx']);
};
