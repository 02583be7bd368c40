/** WebAssembly text (with SIMD) to binary through wabt; used by build-wasm.ts and the staleness test. */
import wabtInit from 'wabt';

/** Compiles `wat` (named `file` in errors) to a validated module binary. Throws on a syntax or validation error. */
export async function compileWat(wat: string, file: string): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const mod = wabt.parseWat(file, wat, { simd: true });
  try {
    mod.validate();
    return new Uint8Array(mod.toBinary({ log: false }).buffer);
  } finally {
    mod.destroy();
  }
}
