// Tensor methods for the structural op family (filled in with the ops themselves).
export {};
