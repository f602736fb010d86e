/**
 * The forged platform: the values of the PCK leaf's SGX extension (FMSPC, PCE-ID, CPUSVN, PCESVN, PPID,
 * SGX type, platform instance id), the quoting enclave, and the default TEE TCB SVN. The defaults are
 * those of a real TDX quote sample, so a default world looks like a real platform.
 */
import { hexToBytes } from "../../core/bytes.js";
import { optionBytes, type BytesLike, type WorldFrame } from "./common.js";
import { bytesFrom } from "./secrets.js";

const DEFAULT_TDX_CPUSVN = "03030202040100050000000000000000";
const DEFAULT_TDX_TEE_TCB_SVN = "06010300000000000000000000000000";
const DEFAULT_SGX_CPUSVN = "0b0b0202ff0100000000000000000000";
const QE_MRSIGNER = "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5";
const TD_QE_MRENCLAVE = "5aa1a9e1b6d6fc2c9d1a0e6ec0b32c9f8e6d3e0b8b1f7cf52d3d9d1f4e1c8a01";
/** MRSEAM of forged TD reports. */
export const DEFAULT_MR_SEAM = "5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c436489d6c8e4f92f160b7cad34207b00c1";

/** Options of the PCK leaf's SGX extension. */
export interface ForgePlatformOptions {
  /** 6 bytes. Default `B0C06F000000` (TDX) / `00906ED50000` (SGX). */
  fmspc?: BytesLike;
  /** 2 bytes. Default `0000`. */
  pceId?: BytesLike;
  /** 16 bytes. Default (TDX) `03030202040100050000000000000000`. */
  cpuSvn?: BytesLike;
  /** Default 11. */
  pceSvn?: number;
  /** 16 bytes. Default derived from the seed. */
  ppid?: BytesLike;
  /** 0 standard, 1 scalable, 2 scalable with integrity. Default 1 (platform) / 0 (processor). */
  sgxType?: number;
  /** 16 bytes (Platform-CA leaves only). Default derived from the seed. */
  platformInstanceId?: BytesLike;
}

/** The PCK leaf's SGX extension values. */
export interface ForgePck {
  fmspc: Uint8Array;
  pceId: Uint8Array;
  cpuSvn: Uint8Array;
  pceSvn: number;
  ppid: Uint8Array;
  sgxType: number;
}

/** The (public) QE defaults a forged quote uses unless overridden. */
export interface ForgeQe {
  mrSigner: Uint8Array;
  mrEnclave: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  attributes: Uint8Array;
  miscSelect: number;
  cpuSvn: Uint8Array;
}

export interface ForgePlatform {
  pck: ForgePck;
  /** Only under the Platform CA. */
  platformInstanceId: Uint8Array | undefined;
  qe: ForgeQe;
  teeTcbSvn: Uint8Array;
}

export function forgePlatform(frame: WorldFrame, opts: ForgePlatformOptions): ForgePlatform {
  const { tee, ca, seed } = frame;
  const cpuSvn = optionBytes(opts.cpuSvn, "cpuSvn", 16, hexToBytes(tee === "tdx" ? DEFAULT_TDX_CPUSVN : DEFAULT_SGX_CPUSVN));
  const pck: ForgePck = {
    fmspc: optionBytes(opts.fmspc, "fmspc", 6, hexToBytes(tee === "tdx" ? "B0C06F000000" : "00906ED50000")),
    pceId: optionBytes(opts.pceId, "pceId", 2, new Uint8Array(2)),
    cpuSvn,
    pceSvn: opts.pceSvn ?? (tee === "tdx" ? 11 : 13),
    ppid: optionBytes(opts.ppid, "ppid", 16, bytesFrom(seed, "ppid", 16)),
    sgxType: opts.sgxType ?? (ca === "platform" ? 1 : 0),
  };
  const platformInstanceId = ca === "platform" ? optionBytes(opts.platformInstanceId, "platformInstanceId", 16, bytesFrom(seed, "piid", 16)) : undefined;
  return { pck, platformInstanceId, qe: quotingEnclave(tee, cpuSvn), teeTcbSvn: hexToBytes(DEFAULT_TDX_TEE_TCB_SVN) };
}

function quotingEnclave(tee: WorldFrame["tee"], cpuSvn: Uint8Array): ForgeQe {
  const attributes = new Uint8Array(16);
  attributes[0] = tee === "tdx" ? 0x15 : 0x11;
  attributes[8] = 0xe7;
  return {
    mrSigner: hexToBytes(QE_MRSIGNER),
    mrEnclave: hexToBytes(TD_QE_MRENCLAVE),
    isvProdId: tee === "tdx" ? 2 : 1,
    isvSvn: tee === "tdx" ? 6 : 10,
    attributes,
    miscSelect: 0,
    cpuSvn,
  };
}
