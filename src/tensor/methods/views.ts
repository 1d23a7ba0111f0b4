import { tensorArg } from '../../ops/common.js';
import * as v from '../../ops/views.js';
import { Tensor } from '../tensor.js';

declare module '../tensor.js' {
  interface Tensor {
    view(...shape: number[] | [number[]]): Tensor;
    reshape(...shape: number[] | [number[]]): Tensor;
    permute(...dims: number[] | [number[]]): Tensor;
    transpose(dim0: number, dim1: number): Tensor;
    /** 2-D transpose. */
    t(): Tensor;
    /** 2-D transpose, as a property (x.T). */
    readonly T: Tensor;
    expand(...shape: number[] | [number[]]): Tensor;
    expandAs(other: Tensor): Tensor;
    narrow(dim: number, start: number, length: number): Tensor;
    slice(dim: number, start?: number, end?: number, step?: number): Tensor;
    select(dim: number, index: number): Tensor;
    squeeze(dim?: number | number[]): Tensor;
    unsqueeze(dim: number): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    contiguous(): Tensor;
    clone(): Tensor;
  }
}

/** Accepts both x.view(2, 3) and x.view([2, 3]). */
const dimsArg = (a: number[] | [number[]]): number[] => (Array.isArray(a[0]) ? (a[0] as number[]) : (a as number[]));

const P = Tensor.prototype;
P.view = function (...s) {
  return v.view(this, dimsArg(s));
};
P.reshape = function (...s) {
  return v.reshape(this, dimsArg(s));
};
P.permute = function (...d) {
  return v.permute(this, dimsArg(d));
};
P.transpose = function (a, b) {
  return v.transpose(this, a, b);
};
P.t = function () {
  return v.t2(this);
};
Object.defineProperty(P, 'T', {
  get(this: Tensor) {
    return v.t2(this);
  },
});
P.expand = function (...s) {
  return v.expand(this, dimsArg(s));
};
P.expandAs = function (o) {
  return v.expand(this, tensorArg('expandAs', 'other', o).shape.slice());
};
P.narrow = function (d, s, l) {
  return v.narrow(this, d, s, l);
};
P.slice = function (d, s, e, st) {
  return v.slice(this, d, s, e, st);
};
P.select = function (d, i) {
  return v.select(this, d, i);
};
P.squeeze = function (d) {
  return v.squeeze(this, d);
};
P.unsqueeze = function (d) {
  return v.unsqueeze(this, d);
};
P.flatten = function (s, e) {
  return v.flatten(this, s, e);
};
P.contiguous = function () {
  return v.contiguous(this);
};
P.clone = function () {
  return v.clone(this);
};
