import {
  installFastSequences,
  parseSequence,
  partitionKeyToHashKey,
  type SequenceParts,
  stringifySequence,
} from '../../../local/kinesis/sequences';

const original = installFastSequences() as {
  parseSequence: (seq: string) => unknown;
  stringifySequence: (parts: SequenceParts) => string;
  partitionKeyToHashKey: (key: string) => { comparedTo(other: string): number; toFixed(): string };
};

/** A deterministic stream of numbers, so the cases are the same on every run. */
const random = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};

describe('the BigInt sequence arithmetic that replaces kinesalite’s bignumber.js', () => {
  const next = random(42);
  const times = [1_600_000_000_000, 1_763_900_000_000, Date.UTC(2026, 10, 23, 16, 40)];
  const parts: SequenceParts[] = [];
  for (let i = 0; i < 300; i++) {
    const shardCreateTime = (times[i % times.length] as number) + Math.floor(next() * 1e6) * 1000;
    parts.push({
      shardCreateTime,
      shardIx: Math.floor(next() * (i % 3 === 0 ? 1 : 5000)),
      seqIx: i % 4 === 0 ? Math.floor(next() * 2 ** 40) : String(Math.floor(next() * 2 ** 52)),
      seqTime: shardCreateTime + Math.floor(next() * 1e9),
      ...(i % 5 === 0 ? { byte1: 'a7' } : {}),
    });
  }

  it('prints every sequence number as kinesalite does, in all three versions', () => {
    for (const p of parts) {
      expect(stringifySequence(p)).toBe(original.stringifySequence(p));
      const v1 = {
        ...p,
        version: 1,
        seqIx: Math.floor(Number(p.seqIx) % 256),
        seqRand: 'abcdef0123456789'.slice(0, 14),
      };
      expect(stringifySequence(v1)).toBe(original.stringifySequence(v1));
      const v0 = {
        shardCreateTime: p.shardCreateTime,
        shardIx: p.shardIx ?? 0,
        version: 0,
        seqRand: '0123456789abcdef',
      };
      expect(stringifySequence(v0)).toBe(original.stringifySequence(v0));
    }
  });

  it('reads every sequence number back as kinesalite does, including the stream-start ones', () => {
    for (const p of parts) {
      for (const version of [undefined, 1, 0]) {
        const seq = original.stringifySequence({ ...p, ...(version === undefined ? {} : { version }) });
        expect(parseSequence(seq)).toEqual(original.parseSequence(seq));
      }
    }
    expect(parseSequence('0')).toEqual(original.parseSequence('0'));
  });

  it('refuses what kinesalite refuses', () => {
    for (const bad of [String(2n ** 130n), String(2n ** 190n)]) {
      expect(() => original.parseSequence(bad)).toThrow();
      expect(() => parseSequence(bad)).toThrow();
    }
  });

  it('hashes partition keys to the same 128-bit keys and orders them against shard ranges alike', () => {
    const bounds = [
      '0',
      '170141183460469231731687303715884105727',
      '340282366920938463463374607431768211455',
    ];
    for (let i = 0; i < 500; i++) {
      const key = `pk-${i}-${Math.floor(next() * 1e9)}`;
      const fast = partitionKeyToHashKey(key);
      const slow = original.partitionKeyToHashKey(key);
      expect(fast.toFixed()).toBe(slow.toFixed());
      for (const b of bounds) expect(fast.comparedTo(b)).toBe(slow.comparedTo(b));
    }
  });
});
