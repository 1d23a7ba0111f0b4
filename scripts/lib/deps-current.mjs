#!/usr/bin/env node
/**
 * Exit 0 when node_modules already holds what package-lock.json asks for, so setup.sh can skip
 * `npm ci` (which deletes node_modules first: slow, and rude to anyone running tests in the tree).
 * It trusts npm's own record of the last install, node_modules/.package-lock.json, the way npm
 * itself does; optional packages are skipped (platform-specific ones are never installed).
 */
import { existsSync, readFileSync } from 'node:fs';

function read(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

const lock = read('package-lock.json');
const installed = read('node_modules/.package-lock.json');
if (!lock?.packages || !installed?.packages) process.exit(1);
for (const [path, entry] of Object.entries(lock.packages)) {
  if (path === '' || entry.optional || entry.link) continue;
  const have = installed.packages[path];
  if (!have || have.version !== entry.version || !existsSync(path)) process.exit(1);
}
process.exit(0);
