#!/usr/bin/env node
import { Command, Option } from 'commander';
import { xpuVersion } from './versions.js';

/**
 * The `xpu` command. Each subcommand imports the runtime lazily, so `xpu --help` does not open
 * the GPU, and a broken GPU still leaves `--help` working.
 */

const program = new Command();
program.name('xpu').description('A tensor runtime for Node.js on WebGPU (Dawn), with a CPU fallback.');
// versions.ts reads package.json only: --version opens no GPU.
program.version(xpuVersion(), '-V, --version', 'print the xpu version');
// `xpu run ... script.js --flag` must hand --flag to the script, not parse it (see `run`).
program.enablePositionalOptions();

program
  .command('info')
  .description('devices, adapter features and limits, native components, versions')
  .option('--json', 'print the same report as JSON')
  .action(async (opts: { json?: boolean }) => {
    const { collectInfo, printInfo } = await import('./info.js');
    const report = await collectInfo();
    if (opts.json) console.log(JSON.stringify(report, null, 2));
    else printInfo(report);
  });

program
  .command('demo')
  .description('run a few ops on xpu and cpu and show that they agree')
  .action(async () => {
    const { runDemo } = await import('./demo.js');
    process.exitCode = await runDemo();
  });

const bench = program
  .command('bench')
  .description('run benchmark suites (all available ones when none is named) and report them')
  .argument('[suites...]', 'elementwise, gemm, attention, quant, collectives, model, compile, train, or all')
  .addOption(new Option('--device <device>', 'which device to measure').choices(['xpu', 'cpu', 'all']).default('all'))
  .option('--dtype <dtypes>', "dtypes to measure, e.g. f32,f16 or all (default: each suite's own)")
  .option('--sizes <sizes>', "sizes to measure, e.g. 1M,4M or 256,512 (default: each suite's own)")
  .option('--quick', 'fewer sizes and repetitions', false)
  .option('--peers', 'also run the peer libraries (e.g. tfjs-webgpu) side by side', false)
  .option('--json <file>', 'write the results as JSON (bench/schema/results.schema.json)')
  .option('--html <file>', 'write a self-contained HTML report with charts')
  .option('--list', 'list the suites that are available and exit')
  .option('-n, --ranks <n>', 'ranks for the collectives suite (default 4; same as XPU_BENCH_RANKS)')
  .addOption(new Option('--backend <backend>', 'engine for the collectives suite (same as XPU_BENCH_BACKEND)').choices(['mpi', 'ccl']))
  .action(
    async (
      suites: string[],
      opts: {
        device: 'xpu' | 'cpu' | 'all';
        dtype?: string;
        sizes?: string;
        quick: boolean;
        peers: boolean;
        json?: string;
        html?: string;
        list?: boolean;
        ranks?: string;
        backend?: string;
      },
    ) => {
      // The collectives suite starts its own ranks and reads their count and engine from the environment.
      if (opts.ranks !== undefined) process.env.XPU_BENCH_RANKS = opts.ranks;
      if (opts.backend !== undefined) process.env.XPU_BENCH_BACKEND = opts.backend;
      const { listSuites, runBench } = await import('./bench.js');
      if (opts.list) {
        console.log(listSuites().join('\n'));
        return;
      }
      process.exitCode = await runBench(suites, opts);
    },
  );

bench
  .command('compare')
  .description("ratios between two runs' JSON files (B over A); exits 1 when a row regressed beyond the runs' spread")
  .argument('<a>', 'the baseline results JSON')
  .argument('<b>', 'the results JSON to compare with it')
  .option('--threshold <percent>', "a row slower by more than this, and than both runs' spread, is a regression", '10')
  .option('--no-fail', 'exit 0 even when a row regressed (default: exit 1)')
  .action(async (a: string, b: string, opts: { threshold: string; fail: boolean }) => {
    const { runCompare } = await import('./bench.js');
    process.exitCode = await runCompare(a, b, opts);
  });

program
  .command('generate')
  .description("stream a GGUF language model's continuation of a prompt (or, with --chat, its answer) to stdout")
  .requiredOption('-m, --model <file>', 'a GGUF model file (Llama architecture), e.g. SmolLM2-135M-Instruct.Q4_1.gguf')
  .argument('<prompt>', 'the prompt text')
  .option('--chat', "wrap the prompt in the model's chat template as a user message", false)
  .option('--system <text>', 'a system message (with --chat)')
  .addOption(new Option('--device <device>', 'where to run (default: xpu when available, else cpu)').choices(['xpu', 'cpu']))
  .option('-n, --max-tokens <n>', 'most new tokens', (v) => Number(v), 128)
  .option('--temperature <t>', 'sampling temperature (0: greedy, deterministic)', (v) => Number(v), 0)
  .option('--top-k <k>', 'sample from the k most likely tokens only', (v) => Number(v))
  .option('--top-p <p>', 'sample from the smallest set of tokens whose probability reaches p', (v) => Number(v))
  .option('--seed <n>', 'sampler seed', (v) => Number(v), 0)
  .option('--stats', 'print load time and tokens/s to stderr', false)
  .action(async (prompt: string, opts: import('./generate.js').GenerateCliOptions) => {
    const { runGenerate } = await import('./generate.js');
    process.exitCode = await runGenerate(prompt, opts);
  });

program
  .command('run')
  .description('start N ranks of a program for xpu.dist (torchrun style), prefixing their output with [rank N]')
  .requiredOption('-n, --nproc <n>', 'number of ranks', (v) => Number(v))
  .addOption(new Option('--backend <backend>', 'collective engine').choices(['mpi', 'ccl']).default('mpi'))
  .option('--timeout <seconds>', 'stop the whole job after this many seconds (0: never)', (v) => Number(v), 0)
  .option('--master-addr <addr>', 'address rank 0 serves the rendezvous store on', '127.0.0.1')
  .argument('<script>', 'a .js/.mjs file (run with node) or an executable')
  .argument('[args...]', 'arguments for the script')
  .passThroughOptions()
  .action(async (script: string, args: string[], opts: { nproc: number; backend: 'mpi' | 'ccl'; timeout: number; masterAddr: string }) => {
    const { runJob } = await import('./run.js');
    process.exitCode = await runJob({
      nproc: opts.nproc,
      backend: opts.backend,
      script,
      args,
      timeout: opts.timeout,
      masterAddr: opts.masterAddr,
    });
  });

await program.parseAsync(process.argv);
