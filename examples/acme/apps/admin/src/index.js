'use strict';
// @acme/admin: part of the kiln example monorepo.
const name = "@acme/admin";
function describe() {
  return `${name} depends on ui, auth`;
}
module.exports = { name, describe };
