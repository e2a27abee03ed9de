// How the sampler reports a run it cannot continue (GenRoundsExceededError in batch mode): its Stats call,
// which the controller polls every tick, answers FAILED_PRECONDITION with the numbers. That error is not
// transient, so the controller ends the run on it, once, with a non-zero exit; the sampler itself keeps
// running and acking (no crash, so no redelivery of the group that tripped it and no restart loop).
import { GrpcStatusError } from "@lspo/actors";
import type { SamplerFailure } from "./core.js";

/** gRPC FAILED_PRECONDITION: the system is not in a state where the call can succeed, and retrying won't help. */
const FAILED_PRECONDITION = 9;

export function runFailedError(f: SamplerFailure): GrpcStatusError {
  return new GrpcStatusError(FAILED_PRECONDITION, `sampler: the run cannot go on: ${f.name}: ${f.message}`);
}
