/**
 * `node:crypto`, loaded when first used. Why: loading it costs a process ~8 ms at start (measured
 * here, min of 20 runs: `require('node:crypto')` 38.6 ms, an empty script 30.3 ms), and a
 * conversion — `image convert`, most of what the worker threads do — never hashes. With a static
 * import every program that bundles this library pays for it before doing anything.
 */
type NodeCrypto = typeof import('node:crypto');

let loaded: NodeCrypto | undefined;

export function nodeCrypto(): NodeCrypto {
  return (loaded ??= process.getBuiltinModule('node:crypto'));
}
