/**
 * A small seeded host PRNG (mulberry32, Tommy Ettinger's): uniform numbers in [0, 1) from a 32-bit
 * seed, the same on every machine. For host-side choices that must be reproducible (sampling's
 * draws, gradcheck's projection vectors); tensors' own random numbers are Philox on the device.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
