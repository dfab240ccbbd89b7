// jco run --jco-import ./jco-preopens.mjs: preopens JCO_PREOPENS="host::guest,..." (jco has none by default).
// Copy it next to the node_modules that holds jco, so its import resolves.
import { _setPreopens } from '@bytecodealliance/preview2-shim/filesystem';
const map = {};
for (const pair of (process.env.JCO_PREOPENS || '').split(',').filter(Boolean)) {
  const [host, guest] = pair.split('::');
  map[guest] = host;
}
_setPreopens(map);
