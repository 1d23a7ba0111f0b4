// xpu.nn.lora: low-rank adapters for Linear layers (also over quantized weights).
export { apply, merge, LoraLinear, type LoraConfig } from './lora.js';
