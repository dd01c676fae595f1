/**
 * The two histogram kernels of histogram.ts as WebAssembly with 128-bit SIMD, emitted at run time
 * for one feature list and one memory layout. A row's gradient and hessian sit side by side (16
 * bytes), as do a histogram bin's sums, so adding a row to a bin is one f64x2.add: half the loads and
 * stores of the JavaScript kernels, and no bound checks. The sums are the same IEEE additions in the
 * same order, so both kernels grow the very same trees (test/unit/trainer/booster.test.ts).
 * Binary format: https://webassembly.github.io/spec/core/binary/index.html
 */

/** Byte offsets of the arrays the kernels read and write, all in one shared WebAssembly.Memory. */
export interface KernelLayout {
  readonly rowMajor: number;
  readonly nodeOf: number;
  readonly picked: number;
  readonly gradients: number;
  readonly splitFeature: number;
  /** 8 words a node: bit b set when bin b goes right. */
  readonly rightBins: number;
  readonly leftChild: number;
  readonly smallSlot: number;
  /** Pages (64 KiB) of the memory, which never grows. */
  readonly pages: number;
}

/**
 * Emits the module: `accumulate(hist, start, end)` adds positions [start, end) to the histogram at
 * byte offset `hist`; `level(hist, start, end, accumulate)` routes rows and adds the small children's.
 * Self-contained (no imports): the worker thread emits its own copy from this function's source.
 */
export function emitKernelModule(
  features: ArrayLike<number>,
  width: number,
  layout: KernelLayout,
): Uint8Array {
  const bytes: number[] = [];
  const u32 = (out: number[], value: number) => {
    let v = value >>> 0;
    do {
      let byte = v & 0x7f;
      v >>>= 7;
      if (v !== 0) byte |= 0x80;
      out.push(byte);
    } while (v !== 0);
  };
  const s32 = (out: number[], value: number) => {
    let v = value | 0;
    for (;;) {
      const byte = v & 0x7f;
      v >>= 7;
      const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
      out.push(done ? byte : byte | 0x80);
      if (done) return;
    }
  };
  const name = (out: number[], text: string) => {
    u32(out, text.length);
    for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i));
  };
  const section = (id: number, content: number[]) => {
    bytes.push(id);
    u32(bytes, content.length);
    bytes.push(...content);
  };
  const I32 = 0x7f;
  const V128 = 0x7b;
  const BIN_BYTES = 16;
  const FEATURE_BYTES = 256 * BIN_BYTES;
  const SLOT_BYTES = width * FEATURE_BYTES;

  // A function body is written as a list of instructions with a few helpers.
  const body = () => {
    const code: number[] = [];
    const op = (...values: number[]) => {
      code.push(...values);
      return api;
    };
    const api = {
      code,
      get: (local: number) => op(0x20, local),
      set: (local: number) => op(0x21, local),
      tee: (local: number) => op(0x22, local),
      i32: (value: number) => {
        code.push(0x41);
        s32(code, value);
        return api;
      },
      add: () => op(0x6a),
      sub: () => op(0x6b),
      mul: () => op(0x6c),
      and: () => op(0x71),
      xor: () => op(0x73),
      shl: () => op(0x74),
      shrU: () => op(0x76),
      geU: () => op(0x4f),
      eqz: () => op(0x45),
      load: (offset: number) => {
        code.push(0x28, 2);
        u32(code, offset);
        return api;
      },
      load8: (offset: number) => {
        code.push(0x2d, 0);
        u32(code, offset);
        return api;
      },
      store: (offset: number) => {
        code.push(0x36, 2);
        u32(code, offset);
        return api;
      },
      v128load: (offset: number) => {
        code.push(0xfd, 0x00, 4);
        u32(code, offset);
        return api;
      },
      v128store: (offset: number) => {
        code.push(0xfd, 0x0b, 4);
        u32(code, offset);
        return api;
      },
      f64x2add: () => op(0xfd, 0xf0, 0x01),
      block: () => op(0x02, 0x40),
      loop: () => op(0x03, 0x40),
      br: (depth: number) => op(0x0c, depth),
      brIf: (depth: number) => op(0x0d, depth),
      end: () => op(0x0b),
      ret: () => op(0x0f),
    };
    return api;
  };
  type Body = ReturnType<typeof body>;

  /** Adds the row in local `row` (gradients in v128 local `gh`) to the slot at byte offset in `slot`. */
  const addRow = (b: Body, row: number, slot: number, gh: number, base: number, addr: number) => {
    b.get(row).i32(4).shl().v128load(layout.gradients).set(gh);
    b.get(row).i32(width).mul().set(base);
    for (let k = 0; k < features.length; k++) {
      const f = Number(features[k]);
      b.get(slot)
        .get(base)
        .load8(layout.rowMajor + f)
        .i32(4)
        .shl()
        .add()
        .tee(addr);
      b.get(addr)
        .v128load(f * FEATURE_BYTES)
        .get(gh)
        .f64x2add()
        .v128store(f * FEATURE_BYTES);
    }
  };

  // accumulate(hist 0, start 1, end 2); locals: row 3, base 4, addr 5, gh 6 (v128).
  const accumulate = body();
  accumulate.get(1).set(3).block().loop();
  accumulate.get(3).get(2).geU().brIf(1);
  addRow(accumulate, 3, 0, 6, 4, 5);
  accumulate.get(3).i32(1).add().set(3).br(0).end().end().end();

  // level(hist 0, start 1, end 2, accumulate 3); locals: row 4 (then j), row 5 (picked[j]), base 6, addr 7, node 8, b 9,
  // child 10, picks 11, slot 12, gh 13 (v128). Branch-free routing, as the JavaScript kernel.
  const level = body();
  level.get(1).tee(4).set(11).block().loop();
  level.get(4).get(2).geU().brIf(1);
  level.get(4).i32(2).shl().load(layout.nodeOf).set(8);
  // b = rowMajor[row * width + splitFeature[node]]
  level.get(4).i32(width).mul();
  level.get(8).i32(2).shl().load(layout.splitFeature).add().load8(layout.rowMajor).set(9);
  // child = leftChild[node] + ((rightBins[node * 8 + (b >>> 5)] >>> b) & 1) (i32.shr_u takes b mod 32)
  level.get(8).i32(2).shl().load(layout.leftChild);
  level.get(8).i32(5).shl().get(9).i32(5).shrU().i32(2).shl().add().load(layout.rightBins);
  level.get(9).shrU().i32(1).and();
  level.add().set(10);
  level.get(4).i32(2).shl().get(10).store(layout.nodeOf);
  // picked[picks] = row; picks += (smallSlot[child] >>> 31) ^ 1
  level.get(11).i32(2).shl().get(4).store(layout.picked);
  level.get(11).get(10).i32(2).shl().load(layout.smallSlot).i32(31).shrU().i32(1).xor().add().set(11);
  level.get(4).i32(1).add().set(4).br(0).end().end();
  level.get(3).eqz().brIf(0);
  level.get(1).set(4).block().loop();
  level.get(4).get(11).geU().brIf(1);
  // row = picked[j] (j in local 4 now); slot = hist + smallSlot[nodeOf[row]] * SLOT_BYTES
  level.get(4).i32(2).shl().load(layout.picked).set(5);
  level.get(5).i32(2).shl().load(layout.nodeOf).i32(2).shl().load(layout.smallSlot);
  level.i32(SLOT_BYTES).mul().get(0).add().set(12);
  addRow(level, 5, 12, 13, 6, 7);
  level.get(4).i32(1).add().set(4).br(0).end().end().end();

  bytes.push(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
  const types: number[] = [2];
  types.push(0x60, 3, I32, I32, I32, 0);
  types.push(0x60, 4, I32, I32, I32, I32, 0);
  section(1, types);
  const imports: number[] = [1];
  name(imports, 'm');
  name(imports, 'memory');
  imports.push(0x02, 0x03);
  u32(imports, layout.pages);
  u32(imports, layout.pages);
  section(2, imports);
  section(3, [2, 0, 1]);
  const exports: number[] = [2];
  name(exports, 'accumulate');
  exports.push(0x00, 0);
  name(exports, 'level');
  exports.push(0x00, 1);
  section(7, exports);
  const functions: number[] = [2];
  for (const [f, locals] of [
    [accumulate, [3, I32, 1, V128]],
    [level, [9, I32, 1, V128]],
  ] as const) {
    const fn: number[] = [2, locals[0], locals[1], locals[2], locals[3], ...f.code];
    u32(functions, fn.length);
    functions.push(...fn);
  }
  section(10, functions);
  return Uint8Array.from(bytes);
}
