/**
 * node:cluster, loaded on first use. Loading it loads child_process and dgram too, about
 * 6 ms of the start-up of every command whose bundle holds a server, cluster or not; a
 * cluster worker has it loaded by Node before any code of ours runs.
 */
import type { Cluster } from 'node:cluster';

let loaded: Cluster | undefined;

/** The cluster module (what `import cluster from 'node:cluster'` gives). */
export function cluster(): Cluster {
  // The module's exports are the cluster object itself (its typings describe the namespace).
  loaded ??= process.getBuiltinModule('node:cluster') as unknown as Cluster;
  return loaded;
}
