'use strict';
// @acme/math: part of the kiln example monorepo.
const name = "@acme/math";
function describe() {
  return `${name} depends on nothing`;
}
module.exports = { name, describe };
