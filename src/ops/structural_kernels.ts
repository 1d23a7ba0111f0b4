/** The structural map kernels (cat, take, triu/tril) live beside the backend contract (src/backends/structural_kernels.ts): cpu's fast paths run them too. */
export * from '../backends/structural_kernels.js';
