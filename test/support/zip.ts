import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

/**
 * One file of a zip archive (a Lambda package), read through the archive's central directory: what
 * a test needs to see inside a package without a zip tool on the machine.
 * https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT (4.3.12, 4.3.16)
 */
export const zipEntry = (archive: string, name: string): Buffer | undefined => {
  const zip = readFileSync(archive);
  // The end of central directory record: its signature, searched for from the end (a comment may follow).
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error(`${archive} is not a zip archive`);
  const entries = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  for (let i = 0; i < entries; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`${archive}: bad central directory`);
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    if (zip.toString('utf8', at + 46, at + 46 + nameLength) === name) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + compressed);
      if (method === 0) return Buffer.from(data);
      if (method === 8) return inflateRawSync(data);
      throw new Error(`${archive}: ${name} is stored with method ${method}`);
    }
    at += 46 + nameLength + extraLength + commentLength;
  }
  return undefined;
};
