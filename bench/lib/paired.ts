/**
 * How sure a ratio between two contenders of one case is. The runner times them round-robin, so
 * round r of each ran within milliseconds of the other's: a burst of load from another tenant
 * lands on both runs of a round. The ratio of each round's two times cancels it, where the ratio
 * of two medians (what `relative.ratio` reports) keeps it whenever the bursts fall unevenly. The
 * median of the per-round ratios gets a distribution-free confidence interval from order
 * statistics (the sign test's interval for a median: with n rounds, the j-th smallest and j-th
 * largest ratio bracket the median with probability 1 - 2 P(Binomial(n, 1/2) < j)). A verdict
 * follows: 'parity' when the interval holds 1, else which side is faster. Nothing here assumes a
 * distribution of the noise, so it holds on a shared machine where the noise is not normal.
 */

export interface PairedRatio {
  /** The median over the rounds of (this row's time / the reference's time) in the same round. */
  median: number;
  /** The interval around it: order statistics of the per-round ratios. */
  lo: number;
  hi: number;
  /** The probability that [lo, hi] holds the true median ratio (as close to `confidence` as n allows, never below it unless n is too small for any interval to reach it). */
  coverage: number;
  rounds: number;
  /** 'faster' / 'slower': this row than the reference, beyond the interval; 'parity': the interval holds 1. */
  verdict: 'faster' | 'slower' | 'parity';
}

/** P(Binomial(n, 1/2) <= k). */
function binomialHalfCdf(n: number, k: number): number {
  let term = 0.5 ** n; // P(X = 0)
  let sum = 0;
  for (let i = 0; i <= k; i++) {
    sum += term;
    term = (term * (n - i)) / (i + 1);
  }
  return sum;
}

/**
 * The interval's ranks: the largest j (1-based) with 2 P(B <= j - 1) <= 1 - confidence, so that
 * [x_(j), x_(n+1-j)] covers the median with at least `confidence`. Too few rounds for that: j = 1
 * (the extremes), whose coverage is then below `confidence` and says so.
 */
export function medianIntervalRank(n: number, confidence: number): { j: number; coverage: number } {
  let j = 1;
  while (j + 1 <= Math.ceil(n / 2) && 2 * binomialHalfCdf(n, j) <= 1 - confidence) j++;
  return { j, coverage: 1 - 2 * binomialHalfCdf(n, j - 1) };
}

/**
 * The per-round ratio of `rowMs` over `refMs` (round i of one against round i of the other), its
 * median and interval. undefined unless both have the same number of rounds (>= 3) and every time is
 * positive: a contender dropped mid-way has rounds that no longer pair.
 */
export function pairedRatio(rowMs: readonly number[], refMs: readonly number[], confidence = 0.95): PairedRatio | undefined {
  const n = rowMs.length;
  if (n < 3 || refMs.length !== n) return undefined;
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!(rowMs[i] > 0) || !(refMs[i] > 0)) return undefined;
    ratios.push(rowMs[i] / refMs[i]);
  }
  ratios.sort((a, b) => a - b);
  const median = n % 2 ? ratios[(n - 1) / 2] : (ratios[n / 2 - 1] + ratios[n / 2]) / 2;
  const { j, coverage } = medianIntervalRank(n, confidence);
  const lo = ratios[j - 1];
  const hi = ratios[n - j];
  const verdict = hi < 1 ? 'faster' : lo > 1 ? 'slower' : 'parity';
  return { median, lo, hi, coverage, rounds: n, verdict };
}
