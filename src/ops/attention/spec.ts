/** The attention primitive's spec lives with the backend contract (src/backends/attention_spec.ts). */
export * from '../../backends/attention_spec.js';
