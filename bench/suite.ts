/**
 * The contract every benchmark suite under bench/ follows. The CLI (`xpu bench <suite>`) imports
 * dist/bench/<suite>.js and calls its exported `run(opts)`.
 */
export interface BenchSuite {
  run(opts: { device: 'xpu' | 'cpu' | 'all'; quick: boolean; json?: string }): Promise<void>;
}
