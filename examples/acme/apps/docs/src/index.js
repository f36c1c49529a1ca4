'use strict';
// @acme/docs: part of the kiln example monorepo.
const name = "@acme/docs";
function describe() {
  return `${name} depends on ui`;
}
module.exports = { name, describe };
