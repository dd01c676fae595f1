import { createHash } from 'node:crypto';

/**
 * kinesalite's sequence-number and hash-key arithmetic, on native BigInt. kinesalite does it with
 * bignumber.js, and under a sustained stream that was the local cloud's hottest code: a CPU profile
 * of 5,000 records/s in and out spent 5.9 s of 30 s in bignumber.js (parsing and printing
 * sequence numbers, hashing partition keys). Same results, bit for bit: the parity test runs both.
 * kinesalite calls these through its `db` module's exports, which `installFastSequences` replaces.
 */
export interface SequenceParts {
  readonly shardCreateTime: number;
  readonly seqIx?: string | number;
  readonly byte1?: string;
  readonly seqTime?: number;
  readonly seqRand?: string;
  readonly shardIx?: number;
  readonly version?: number | null;
}

const POW_2_124 = 1n << 124n;
const POW_2_124_NEXT = (1n << 125n) * 16n;
const POW_2_185 = 1n << 185n;
const POW_2_185_NEXT = 3n << 184n;
const DATE_LIMIT_SECONDS = 16025175000;

const hexInt = (hex: string): number => Number.parseInt(hex, 16);

export const parseSequence = (seq: string | number): SequenceParts & { version: number } => {
  let n = BigInt(seq);
  if (n < POW_2_124) n += POW_2_124;
  const hex = n.toString(16);
  const version =
    n < POW_2_124_NEXT ? 0 : n > POW_2_185 && n < POW_2_185_NEXT ? hexInt(hex.slice(hex.length - 1)) : null;
  if (version === 2) {
    const seqIxHex = hex.slice(11, 27);
    let shardIxHex = hex.slice(38, 46);
    if (hexInt(seqIxHex[0] ?? '0') > 7) throw new Error('Sequence index too high');
    if (hexInt(shardIxHex[0] ?? '0') > 7) shardIxHex = `-${shardIxHex}`;
    const shardCreateSecs = hexInt(hex.slice(1, 10));
    if (shardCreateSecs >= DATE_LIMIT_SECONDS) throw new Error(`Date too large: ${shardCreateSecs}`);
    return {
      shardCreateTime: shardCreateSecs * 1000,
      seqIx: BigInt(`0x${seqIxHex}`).toString(),
      byte1: hex.slice(27, 29),
      seqTime: hexInt(hex.slice(29, 38)) * 1000,
      shardIx: hexInt(shardIxHex),
      version,
    };
  }
  if (version === 1) {
    return {
      shardCreateTime: hexInt(hex.slice(1, 10)) * 1000,
      byte1: hex.slice(11, 13),
      seqTime: hexInt(hex.slice(13, 22)) * 1000,
      seqRand: hex.slice(22, 36),
      seqIx: hexInt(hex.slice(36, 38)),
      shardIx: hexInt(hex.slice(38, 46)),
      version,
    };
  }
  if (version === 0) {
    const shardCreateSecs = hexInt(hex.slice(1, 10));
    if (shardCreateSecs >= DATE_LIMIT_SECONDS) throw new Error(`Date too large: ${shardCreateSecs}`);
    return {
      shardCreateTime: shardCreateSecs * 1000,
      byte1: hex.slice(10, 12),
      seqRand: hex.slice(12, 28),
      shardIx: hexInt(hex.slice(28, 32)),
      version,
    };
  }
  throw new Error(`Unknown version: ${version}`);
};

const shardIxToHex = (shardIx: number | undefined): string =>
  `0000000${(shardIx || 0).toString(16)}`.slice(-8);
const seconds = (ms: number): string => `00000000${Math.floor(ms / 1000).toString(16)}`.slice(-9);
const decimal = (hex: string): string => BigInt(`0x${hex}`).toString();
/** As kinesalite prints it: a number in hex, a string as it is. */
const version1Index = (seqIx: string | number | undefined): string => {
  const v = seqIx || 0;
  return typeof v === 'number' ? v.toString(16) : v;
};

export const stringifySequence = (obj: SequenceParts): string => {
  if (obj.version == null || obj.version === 2) {
    return decimal(
      [
        '2',
        seconds(obj.shardCreateTime),
        (obj.shardIx || 0).toString(16).slice(-1),
        `0000000000000000${BigInt(obj.seqIx || 0).toString(16)}`.slice(-16),
        obj.byte1 || '00',
        seconds(obj.seqTime || obj.shardCreateTime),
        shardIxToHex(obj.shardIx),
        '2',
      ].join(''),
    );
  }
  if (obj.version === 1) {
    return decimal(
      [
        '2',
        seconds(obj.shardCreateTime),
        (obj.shardIx || 0).toString(16).slice(-1),
        obj.byte1 || '00',
        seconds(obj.seqTime || obj.shardCreateTime),
        obj.seqRand || '00000000000000',
        `0${version1Index(obj.seqIx)}`.slice(-2),
        shardIxToHex(obj.shardIx),
        '1',
      ].join(''),
    );
  }
  if (obj.version === 0) {
    return decimal(
      [
        '1',
        seconds(obj.shardCreateTime),
        obj.byte1 || '00',
        obj.seqRand || '0000000000000000',
        shardIxToHex(obj.shardIx).slice(-4),
      ].join(''),
    );
  }
  throw new Error(`Unknown version: ${obj.version}`);
};

/** A 128-bit hash key that compares with the decimal strings of shards' hash key ranges. */
export class HashKey {
  constructor(readonly value: bigint) {}
  comparedTo(other: string | number | { toString(): string }): -1 | 0 | 1 {
    const o = BigInt(other.toString());
    return this.value < o ? -1 : this.value > o ? 1 : 0;
  }
  toFixed(): string {
    return this.value.toString();
  }
  toString(base?: number): string {
    return this.value.toString(base);
  }
}

export const partitionKeyToHashKey = (partitionKey: string): HashKey =>
  new HashKey(BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`));

interface KinesaliteDb {
  parseSequence: unknown;
  stringifySequence: unknown;
  partitionKeyToHashKey: unknown;
}

let originals: KinesaliteDb | undefined;

/** Points kinesalite at the BigInt versions; returns its originals (the parity test compares them). */
export const installFastSequences = (): KinesaliteDb => {
  const db = require('kinesalite/db') as KinesaliteDb;
  originals ??= {
    parseSequence: db.parseSequence,
    stringifySequence: db.stringifySequence,
    partitionKeyToHashKey: db.partitionKeyToHashKey,
  };
  db.parseSequence = parseSequence;
  db.stringifySequence = stringifySequence;
  db.partitionKeyToHashKey = partitionKeyToHashKey;
  return originals;
};
