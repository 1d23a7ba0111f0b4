// Tensor methods for the reduce op family (filled in with the ops themselves).
export {};
