// One error class per failure mode of the actor runtime.

/** No registered actor answers to the name or group asked for. */
export class ActorNotFoundError extends Error {
  override name = "ActorNotFoundError";
}

/** A placement request no node agent can satisfy; the message says what was asked and what is free. */
export class PlacementError extends Error {
  override name = "PlacementError";
}

/** A method called the wrong way; the message shows the right form. */
export class ActorCallError extends Error {
  override name = "ActorCallError";
}
