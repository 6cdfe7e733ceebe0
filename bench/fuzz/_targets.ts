/**
 * Every fuzz target, in the order they run.
 *
 * @module
 */

import {
  frameParserClientTarget,
  frameParserServerTarget,
  protocolClientTarget,
  protocolDeflateClientTarget,
  protocolDeflateServerTarget,
  protocolServerTarget,
} from "./_core_targets.ts";
import {
  extensionHeaderTarget,
  requestHeadTarget,
  responseHeadTarget,
} from "./_http_targets.ts";
import type { FuzzTarget } from "./_target.ts";

/** The targets, by name. */
export const TARGETS: readonly FuzzTarget[] = [
  requestHeadTarget,
  responseHeadTarget,
  extensionHeaderTarget,
  frameParserServerTarget,
  frameParserClientTarget,
  protocolServerTarget,
  protocolClientTarget,
  protocolDeflateServerTarget,
  protocolDeflateClientTarget,
];
