import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ModelManifest, manifestSchema } from './manifest';
import { packTarGz, TarFormatError, unpackTarGz } from './tar';

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
/** model.tar.gz is not a readable gzipped tar, or lacks a file the manifest names. */
export class InvalidBundleError extends ModelError {
  override name = 'InvalidBundleError';
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

/** The bundle's two files, from a folder or from the archive; checked against each other. */
const checkedBundle = (read: (file: string) => Uint8Array, where: string): ModelBundle => {
  const manifest = parseManifest(
    Buffer.from(read('manifest.json')).toString('utf8'),
    `${where}: manifest.json`,
  );
  const onnx = read(manifest.onnx.file);
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
  if (statSync(path).isDirectory())
    return checkedBundle((file) => new Uint8Array(readFileSync(join(path, file))), path);
  let files: Map<string, Uint8Array>;
  try {
    files = unpackTarGz(readFileSync(path), path);
  } catch (cause) {
    if (cause instanceof TarFormatError) throw new InvalidBundleError(cause.message, { cause });
    throw cause;
  }
  return checkedBundle((file) => {
    const bytes = files.get(file);
    if (!bytes)
      throw new InvalidBundleError(
        `${path}: has no ${file} (it holds ${[...files.keys()].join(', ') || 'nothing'})`,
      );
    return bytes;
  }, path);
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
  const files = ['manifest.json', 'model.onnx'].map((name) => ({
    name,
    bytes: readFileSync(join(dir, name)),
  }));
  writeFileSync(file, packTarGz(files));
};
