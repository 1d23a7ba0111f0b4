// Installs the Tensor methods (a.add(b), x.sum(1)...), one file per op family.
import './methods/core.js';
import './methods/elementwise.js';
import './methods/views.js';
import './methods/reduce.js';
import './methods/norm.js';
import './methods/structural.js';
import './methods/linalg.js';
import './methods/pointwise.js';
import './methods/shape_ops.js';
import './methods/index_ops.js';
import './methods/products.js';
import './methods/random_ops.js';
import './methods/info.js';
import './methods/autograd.js';
