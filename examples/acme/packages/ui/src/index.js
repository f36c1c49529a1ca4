'use strict';
// @acme/ui: part of the kiln example monorepo.
const name = "@acme/ui";
function describe() {
  return `${name} depends on utils`;
}
module.exports = { name, describe };
