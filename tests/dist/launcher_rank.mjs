// A program for the launcher tests (no collectives): prints what the launcher told it.
//   ok        every rank prints its environment and exits 0
//   fail-one  rank 1 exits with code 3 after a moment; the others would wait a minute
const mode = process.argv[2];
const { RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT, XPU_DIST_BACKEND } = process.env;
console.log(`env ${JSON.stringify({ RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT, XPU_DIST_BACKEND, args: process.argv.slice(3) })}`);
console.error(`to stderr from ${RANK}`);
if (mode === 'fail-one') {
  if (RANK === '1') setTimeout(() => process.exit(3), 300);
  else setTimeout(() => console.log('never printed: the launcher stops this rank first'), 60_000);
}
