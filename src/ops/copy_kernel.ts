/** The identity map lives with the backend contract (src/backends/copy_kernel.ts): backends run it as a buffer copy. */
export { COPY_KERNEL, identity } from '../backends/copy_kernel.js';
