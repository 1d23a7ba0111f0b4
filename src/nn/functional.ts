// xpu.nn.functional: the losses, as torch.nn.functional has them (cross_entropy -> crossEntropy, ...).
export {
  crossEntropy,
  mseLoss,
  l1Loss,
  binaryCrossEntropyWithLogits,
  type CrossEntropyOptions,
  type BceOptions,
  type Reduction,
} from './losses.js';
