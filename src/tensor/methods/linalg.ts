// Tensor methods for the linalg op family (filled in with the ops themselves).
export {};
