#!/usr/bin/env node
// A tiny test runner: runs test/*.test.js of the package in the current directory.
'use strict';
const fs = require('fs');
const path = require('path');
const assert = require('assert');
const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
const dir = 'test';
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort() : [];
let passed = 0;
for (const f of files) {
  require(path.resolve(dir, f))(assert, require(path.resolve('dist', 'index.js')));
  passed++;
}
console.log(`${pkg.name}: ${passed} test file(s) passed`);
