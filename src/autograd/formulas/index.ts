// Every family's gradient formulas, registered by name (record.ts defineGrad) when imported.
import './elementwise.js';
import './reduce.js';
import './linalg.js';
import './structural.js';
import './norm.js';
