'use strict';
// @acme/http: part of the kiln example monorepo.
const name = "@acme/http";
function describe() {
  return `${name} depends on logger, utils`;
}
module.exports = { name, describe };
