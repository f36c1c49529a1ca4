'use strict';
// @acme/api-client: part of the kiln example monorepo.
const name = "@acme/api-client";
function describe() {
  return `${name} depends on http, auth`;
}
module.exports = { name, describe };
