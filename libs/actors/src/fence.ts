// A node agent's fence: which controller of its run may still start and stop its actors. A controller that
// takes the run's lease (services/controller run/lease.ts) gets a fencing token, its take, and sends it with
// every StartActors and StopActor. Its first act is Fence on every live agent, which raises the agent's fence
// to that token once the calls already in flight have ended. From then on the agent refuses a call with an
// older token (or none): a controller that lost the run, whose call was on its way when its lease lapsed (a
// placement sent just before its pause, delivered late), can no longer start a second learner beside the
// new controller's. The lease keeps two controllers from deciding at once; the fence keeps a decision that
// was already on its way from landing after the handover.
import { status as grpcStatus } from "@grpc/grpc-js";
import type { FencingToken } from "@lspo/proto";
import { GrpcStatusError } from "./grpc-server.js";

/** Negative, zero or positive as token a is older than, the same as, or newer than token b. */
export function compareTokens(a: FencingToken, b: FencingToken): number {
  if (a.epochMs !== b.epochMs) return a.epochMs < b.epochMs ? -1 : 1;
  return a.revision === b.revision ? 0 : a.revision < b.revision ? -1 : 1;
}

export function describeToken(t: FencingToken): string {
  return `lease take ${t.revision} of ${new Date(Number(t.epochMs)).toISOString()}`;
}

/** A token as it arrives: a message field left unset, or set to zeros, is no token. */
const given = (t: FencingToken | undefined): FencingToken | null => (t && (t.epochMs > 0n || t.revision > 0n) ? t : null);

export class AgentFence {
  #fence: FencingToken | null = null;
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(private readonly where: string) {}

  /** The newest token seen, or null while no controller has sent one. */
  get current(): FencingToken | null {
    return this.#fence;
  }

  /**
   * Runs a state-changing call (`what`) if its token is not older than the fence; a newer token raises the fence.
   * A refused call throws FAILED_PRECONDITION, naming both tokens: the controller that sent it lost its run.
   */
  run<T>(what: string, token: FencingToken | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      this.admit(what, given(token));
    } catch (err) {
      return Promise.reject(err);
    }
    const call = fn();
    this.#inFlight.add(call);
    void call.then(
      () => this.#inFlight.delete(call),
      () => this.#inFlight.delete(call),
    );
    return call;
  }

  /** Fence: raises the fence to `token` and resolves once every call admitted before it has ended. */
  async raise(token: FencingToken | undefined): Promise<FencingToken> {
    const t = given(token);
    if (!t) throw new GrpcStatusError(grpcStatus.INVALID_ARGUMENT, `fencingToken: Fence needs a token (a controller's lease take); ${this.where} got none`);
    this.admit("Fence", t);
    await Promise.allSettled([...this.#inFlight]);
    return this.#fence!;
  }

  private admit(what: string, token: FencingToken | null): void {
    const fence = this.#fence;
    if (!token) {
      if (fence) throw this.refusal(what, `carries no fencing token, and ${this.where} is fenced at ${describeToken(fence)}`);
      return;
    }
    if (fence && compareTokens(token, fence) < 0) {
      throw this.refusal(what, `carries ${describeToken(token)}, older than the fence of ${this.where} at ${describeToken(fence)}: a newer controller has taken the run`);
    }
    if (!fence || compareTokens(token, fence) > 0) this.#fence = token;
  }

  private refusal(what: string, why: string): GrpcStatusError {
    return new GrpcStatusError(grpcStatus.FAILED_PRECONDITION, `${what} refused: the call ${why}`);
  }
}
