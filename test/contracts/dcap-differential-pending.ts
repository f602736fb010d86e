/**
 * PENDING (contract side): known disagreements between contracts/dcap/DcapVerifier.sol and the TypeScript
 * verifier where the TypeScript side is right, by case name, with the exact differences the differential
 * run reports. Each entry is a bug report for the contract; remove it when the contract is fixed (the
 * differential test then requires agreement). Empty when both verifiers agree everywhere.
 */
export const PENDING_SOLIDITY: Record<string, string[]> = {};
