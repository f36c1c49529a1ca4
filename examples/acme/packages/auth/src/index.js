'use strict';
// @acme/auth: part of the kiln example monorepo.
const name = "@acme/auth";
function describe() {
  return `${name} depends on http, config`;
}
module.exports = { name, describe };
