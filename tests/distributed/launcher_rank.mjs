// A program for the launcher tests (no collectives): prints what the launcher told it.
//   ok        every rank prints its environment and exits 0
//   fail-one  rank 1 exits with code 3 after a moment; the others would wait a minute
// The store secret is printed as its length and a fingerprint, never itself.
import { createHash } from 'node:crypto';

const mode = process.argv[2];
const {
  RANK,
  WORLD_SIZE,
  LOCAL_RANK,
  MASTER_ADDR,
  MASTER_PORT,
  XPU_DIST_BACKEND,
  XPU_DIST_SECRET,
  OMPI_MCA_btl,
  OMPI_MCA_btl_tcp_if_include,
  OMPI_MCA_oob_tcp_if_include,
} = process.env;
const secret = XPU_DIST_SECRET
  ? { length: XPU_DIST_SECRET.length, fingerprint: createHash('sha256').update(XPU_DIST_SECRET).digest('hex').slice(0, 16) }
  : null;
console.log(
  `env ${JSON.stringify({ RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT, XPU_DIST_BACKEND, secret, OMPI_MCA_btl, OMPI_MCA_btl_tcp_if_include, OMPI_MCA_oob_tcp_if_include, args: process.argv.slice(3) })}`,
);
console.error(`to stderr from ${RANK}`);
if (mode === 'fail-one') {
  if (RANK === '1') setTimeout(() => process.exit(3), 300);
  else setTimeout(() => console.log('never printed: the launcher stops this rank first'), 60_000);
}
