'use strict';
// @acme/config: part of the kiln example monorepo.
const name = "@acme/config";
function describe() {
  return `${name} depends on nothing`;
}
module.exports = { name, describe };
