'use strict';
// @acme/web: part of the kiln example monorepo.
const name = "@acme/web";
function describe() {
  return `${name} depends on ui, api-client, logger`;
}
module.exports = { name, describe };
