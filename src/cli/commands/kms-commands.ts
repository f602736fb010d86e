/** The KMS commands of issue #4, re-exported for the command list. */
export { pullCommand } from "./pull.js";
export { checkCertsCommand } from "./check-certs.js";
export { verifyCommand } from "./verify.js";
export { simulateKmsCommand } from "./simulate-kms.js";
