#!/usr/bin/env node
import { Command, Option } from 'commander';

/**
 * The `xpu` command. Each subcommand imports the runtime lazily, so `xpu --help` does not open
 * the GPU, and a broken GPU still leaves `--help` working.
 */

const program = new Command();
program.name('xpu').description('A tensor runtime for Node.js on WebGPU (Dawn), with a CPU fallback.');

program
  .command('info')
  .description('devices, adapter features and limits, native components, versions')
  .option('--json', 'print the same report as JSON')
  .action(async (opts: { json?: boolean }) => {
    const { collectInfo, printInfo } = await import('./info.js');
    const report = collectInfo();
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

program
  .command('bench')
  .description('run benchmark suites from bench/ (all of them when none is named)')
  .argument('[suites...]', 'suite names, e.g. elementwise')
  .addOption(new Option('--device <device>', 'which device to measure').choices(['xpu', 'cpu', 'all']).default('all'))
  .option('--quick', 'fewer sizes and repetitions', false)
  .option('--json <file>', 'also write the results as JSON')
  .option('--list', 'list the suites and exit')
  .action(async (suites: string[], opts: { device: 'xpu' | 'cpu' | 'all'; quick: boolean; json?: string; list?: boolean }) => {
    const { listSuites, runBench } = await import('./bench.js');
    if (opts.list) {
      console.log(listSuites().join('\n'));
      return;
    }
    process.exitCode = await runBench(suites, { device: opts.device, quick: opts.quick, json: opts.json });
  });

await program.parseAsync(process.argv);
