// Tensor methods for the norm op family (filled in with the ops themselves).
export {};
