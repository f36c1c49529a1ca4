'use strict';
// @acme/utils: part of the kiln example monorepo.
const name = "@acme/utils";
function describe() {
  return `${name} depends on math`;
}
module.exports = { name, describe };
