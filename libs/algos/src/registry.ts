// A strict name -> entry table (verl-style registries, minus the bypasses): registering a name twice
// throws, and a failed lookup lists the valid names. Every plug-in kind (advantage estimators, policy
// losses, KL estimators, aggregation modes) is one of these.
import { DuplicateNameError, UnknownNameError } from "./errors.js";

export class Registry<T> {
  readonly #entries = new Map<string, T>();

  /** `kind` names the registry in error messages, e.g. "policy loss". */
  constructor(readonly kind: string) {}

  register(name: string, entry: T): void {
    if (this.#entries.has(name)) throw new DuplicateNameError(this.kind, name);
    this.#entries.set(name, entry);
  }

  get(name: string): T {
    const entry = this.#entries.get(name);
    if (entry === undefined) throw new UnknownNameError(this.kind, name, this.names());
    return entry;
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** Registered names, sorted (stable error messages and docs). */
  names(): string[] {
    return [...this.#entries.keys()].sort();
  }
}
