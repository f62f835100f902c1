/**
 * `xen-list-images` alone: what dist/bundle/list-images.cjs, which bin/xen-list-images.js loads,
 * is built from. The `xm list` bundle (list.ts) carries the domain drivers and xm's verbs as well,
 * three times the code, none of which this listing runs.
 */
export { main as xenListImages } from './xen-list-images.js';
