/**
 * The request handler type every wstream placement takes.
 *
 * @module
 */

/**
 * Handles one request. Return the response of `upgrade()` to switch
 * to WebSocket, or any other response to answer plain HTTP.
 */
export type ServeHandler = (request: Request) => Response | Promise<Response>;
