'use strict';
// @acme/logger: part of the kiln example monorepo.
const name = "@acme/logger";
function describe() {
  return `${name} depends on config`;
}
module.exports = { name, describe };
