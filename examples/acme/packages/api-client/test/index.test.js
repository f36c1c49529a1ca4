'use strict';
module.exports = (assert, mod) => {
  assert.strictEqual(typeof mod, 'object');
};
