#!/usr/bin/env node
// A tiny linter: no tabs, no trailing whitespace, no `var`.
'use strict';
const fs = require('fs');
const path = require('path');
let problems = 0;
for (const f of fs.readdirSync('src').filter((f) => f.endsWith('.js')).sort()) {
  fs.readFileSync(path.join('src', f), 'utf8').split('\n').forEach((line, i) => {
    const where = `src/${f}:${i + 1}`;
    if (/\t/.test(line)) { console.error(`${where}: tab`); problems++; }
    if (/\s+$/.test(line)) { console.error(`${where}: trailing whitespace`); problems++; }
    if (/\bvar\b/.test(line)) { console.error(`${where}: use let or const`); problems++; }
  });
}
if (problems) process.exit(1);
console.log('lint: clean');
