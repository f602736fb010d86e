/**
 * The simulated KMS's state: its keys once bootstrapped, its mode (onboard until Finish, then normal) and
 * the one Bootstrap it allows. Errors a caller of the API sees are `RpcError`s: an HTTP status and a message.
 */
import { errorMessage } from "../../core/errors.js";
import { validateDomain } from "../pki.js";
import { bootstrapKms } from "./bootstrap.js";
import type { SimulatedCvm } from "./cvm.js";
import type { KmsKeys } from "./keys.js";
import type { SimulatorConfig } from "./options.js";

/** An answer other than 200: the HTTP status and the message of the `{"error"}` document. */
export class RpcError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** What the programmatic `bootstrap()` reports this as. */
    readonly bootstrapCode: "ALREADY_BOOTSTRAPPED" | "BAD_DOMAIN" = "BAD_DOMAIN",
  ) {
    super(message);
  }
}

/** A 404 for a method the simulator does not know: answered as a JSON error, not as the Not Found page. */
export class UnknownMethodError extends RpcError {
  constructor(method: string) {
    super(404, `method ${method} not found`);
  }
}

export type SimulatorMode = "onboard" | "normal";

export class SimulatorState {
  keys: KmsKeys | null;
  mode: SimulatorMode;
  private bootstrapping: Promise<Record<string, string>> | null = null;

  constructor(
    readonly config: SimulatorConfig,
    readonly cvm: SimulatedCvm,
    keys: KmsKeys | null,
  ) {
    this.keys = keys;
    this.mode = keys ? "normal" : "onboard";
  }

  /** The keys of a bootstrapped KMS in normal mode; the Not Found answer otherwise. */
  normalKeys(): KmsKeys {
    if (!this.keys || this.mode === "onboard") throw new RpcError(404, "not found");
    return this.keys;
  }

  /** Bootstrap once for `domainArg`; a second Bootstrap, or one while the first runs, fails and touches nothing. */
  async bootstrap(domainArg: unknown): Promise<Record<string, string>> {
    if (this.keys) throw new RpcError(400, "Bootstrap already completed", "ALREADY_BOOTSTRAPPED");
    if (this.bootstrapping) throw new RpcError(400, "Bootstrap already completed (in progress)");
    let domain: string;
    try {
      domain = validateDomain(domainArg);
    } catch (e) {
      throw new RpcError(400, errorMessage(e));
    }
    const run = async (): Promise<Record<string, string>> => {
      this.keys = await bootstrapKms(this.config, this.cvm, domain);
      return this.keys.bootstrapResponse;
    };
    this.bootstrapping = run();
    try {
      return await this.bootstrapping;
    } finally {
      this.bootstrapping = null;
    }
  }
}
