/**
 * The on-chain readers of Intel's TCB Info and QE Identity (contracts/dcap/IntelJson.sol, TcbInfo.sol,
 * QeIdentity.sol) against the TypeScript ones, field by field and grade by grade: every real document
 * of the fixtures, forged documents with random levels, statuses, module identities and advisory IDs,
 * random platforms, and malformed texts (both must refuse).
 */
import { readFileSync } from "node:fs";

import { network } from "hardhat";
import { type Abi } from "viem";
import { describe, expect, it } from "vitest";

import { createForgeWorld } from "../../src/testing/forge/index.js";

import {
  chainTryOutcome,
  errorName,
  chainQeView,
  chainTcbInfoView,
  forgedCase,
  parseQeIdentity,
  parseTcbInfo,
  platformArg,
  realDocuments,
  rng,
  textHex,
  tsEvaluate,
  tsQeView,
  tsTcbInfoView,
  type Outcome,
  type PlatformInput,
} from "./dcap-json-lib.js";
import { intelShapedTcbInfo, productionTcbLevels } from "./dcap-verifier-lib.js";

// IntelJsonHarness exposes every reader and grader of the three libraries at once, which is more code than one
// deployable contract holds; it is a test harness only (DcapCollateral deploys within the limit).
const { viem } = await network.connect({ override: { hardfork: "osaka", allowUnlimitedContractSize: true } });
const harness = await viem.deployContract("IntelJsonHarness", []);
const tryer = await viem.deployContract("IntelJsonTry", [harness.address]);
/** The harness's errors and the libraries' own: the graders build their errors as revert data (for DcapCollateral). */
const libraryErrors = ["TcbInfo", "QeIdentity"].flatMap(
  (name) =>
    (JSON.parse(readFileSync(new URL(`../../artifacts/contracts/dcap/${name}.sol/${name}.json`, import.meta.url), "utf8")) as { abi: Abi }).abi,
);
const errorsAbi: Abi = [...harness.abi, ...libraryErrors.filter((e) => e.type === "error")];

async function chainEvaluate(tcbInfo: string, qeIdentity: string, p: PlatformInput): Promise<Outcome> {
  return chainTryOutcome(errorsAbi, await tryer.read.tryEvaluate([textHex(tcbInfo), textHex(qeIdentity), platformArg(p)]));
}

function tsAccepts(parse: (t: string) => unknown, t: string): boolean {
  try {
    parse(t);
    return true;
  } catch {
    return false;
  }
}

/** The contract's verdict on a text: "ok" or the custom error's name ("?" would be a panic). */
async function chainVerdict(kind: "tcb" | "qe", t: string): Promise<string> {
  const data = await tryer.read.parseError([textHex(t), kind === "tcb"]);
  return data === "0x" ? "ok" : errorName(errorsAbi, data);
}

const REAL = realDocuments();

describe("real Intel documents", () => {
  it("reads the six real collateral files of the fixtures", () => {
    expect(REAL.map((d) => d.name).sort()).toEqual([
      "auto_forge_v3_sgx_0825.collateral.json",
      "auto_forge_v4_0625.collateral.json",
      "gtg_v5_td15_2602.collateral.json",
      "qvl_near_v4.collateral.json",
      "sgx_quote_collateral.json",
      "tdx_quote_collateral.json",
    ]);
  });

  it.each(REAL.map((d) => [d.name, d] as const))("%s: every TCB Info and QE Identity field as the TS parser reads it", async (_n, d) => {
    expect(chainTcbInfoView(await harness.read.parseTcbInfo([textHex(d.tcbInfo)]))).toEqual(tsTcbInfoView(parseTcbInfo(d.tcbInfo)));
    expect(chainQeView(await harness.read.parseQeIdentity([textHex(d.qeIdentity)]))).toEqual(tsQeView(parseQeIdentity(d.qeIdentity)));
  });

  it("every level of every real TCB Info, matched from its own SVNs and random neighbours, grades as in TS", async () => {
    let agree = 0;
    let matched = 0;
    const r = rng(7);
    for (const d of REAL) {
      const info = parseTcbInfo(d.tcbInfo);
      const qe = parseQeIdentity(d.qeIdentity);
      const tdx = info.id === "TDX";
      for (const [i, lv] of info.tcbLevels.entries()) {
        for (let k = 0; k < 3; k++) {
          const jitter = (v: number[]) => new Uint8Array(v.map((x) => (k === 0 ? x : Math.max(0, Math.min(255, x + r.int(3) - 1)))));
          const tee = jitter(lv.tdx.length ? lv.tdx : new Array<number>(16).fill(0));
          if (k === 2) tee[1] = r.pick([0, 1, 3]);
          const ident = info.tdxModuleIdentities[r.int(Math.max(1, info.tdxModuleIdentities.length))];
          const p: PlatformInput = {
            tdx,
            cpuSvn: jitter(lv.sgx),
            pceSvn: Math.max(0, lv.pceSvn + (k === 0 ? 0 : r.int(3) - 1)),
            teeTcbSvn: tee,
            mrSignerSeam: info.tdxModule?.mrSigner ?? new Uint8Array(48),
            seamAttributes: info.tdxModule?.attributes ?? new Uint8Array(8),
            qeMrSigner: qe.mrSigner,
            qeAttributes: qe.attributes,
            qeIsvProdId: qe.isvProdId,
            qeMiscSelect: qe.miscselect,
            qeIsvSvn: (ident?.tcbLevels[0]?.isvSvn ?? 0) + r.int(3) - 1 < 0 ? 0 : qe.tcbLevels[r.int(qe.tcbLevels.length)]!.isvSvn,
          };
          const ts = tsEvaluate(info, qe, p);
          expect(await chainEvaluate(d.tcbInfo, d.qeIdentity, p), `${d.name} level ${i}`).toEqual(ts);
          agree++;
          if (ts.ok) matched++;
        }
      }
    }
    console.log(`real documents: ${REAL.length} collateral files, ${agree} evaluations agree (${matched} matched a level)`);
    expect(matched).toBeGreaterThan(agree / 3);
  });
});

describe("forged documents and random platforms", () => {
  it("300 seeded cases: parsed fields (every third), matched level, converged statuses and advisory IDs agree", async () => {
    const kinds = new Map<string, number>();
    for (let seed = 1; seed <= 300; seed++) {
      const c = forgedCase(seed);
      const info = parseTcbInfo(c.tcbInfo);
      const qe = parseQeIdentity(c.qeIdentity);
      if (seed % 3 === 0) {
        // every parsed field (the evaluation below parses both documents on chain each time)
        expect(chainTcbInfoView(await harness.read.parseTcbInfo([textHex(c.tcbInfo)])), `seed ${seed}`).toEqual(tsTcbInfoView(info));
        expect(chainQeView(await harness.read.parseQeIdentity([textHex(c.qeIdentity)])), `seed ${seed}`).toEqual(tsQeView(qe));
      }
      const ts = tsEvaluate(info, qe, c.platform);
      expect(await chainEvaluate(c.tcbInfo, c.qeIdentity, c.platform), `seed ${seed}`).toEqual(ts);
      const k = ts.ok ? `ok:${ts.final.status}` : ts.code;
      kinds.set(k, (kinds.get(k) ?? 0) + 1);
    }
    console.log(`forged: 300/300 agree; outcomes ${JSON.stringify(Object.fromEntries([...kinds].sort()))}`);
    // the cases reach every status and the main refusals
    expect([...kinds.keys()].filter((k) => k.startsWith("ok:")).length).toBeGreaterThanOrEqual(5);
    for (const code of ["TCB_LEVEL_NOT_FOUND", "QE_TCB_LEVEL_NOT_FOUND"]) expect(kinds.get(code) ?? 0).toBeGreaterThan(0);
  });
});

describe("malformed documents", () => {
  const tdx = REAL.find((d) => d.name === "auto_forge_v4_0625.collateral.json")!;
  const cases: [string, "tcb" | "qe", string][] = [];
  const t = tdx.tcbInfo;
  const q = tdx.qeIdentity;
  const r = rng(11);
  for (let i = 0; i < 12; i++) {
    const n = r.int(t.length - 1);
    cases.push([`tcb_info truncated at ${n}`, "tcb", t.slice(0, n)]);
  }
  cases.push(["qe_identity truncated", "qe", q.slice(0, q.length - 1)]);
  cases.push(["duplicate top-level key", "tcb", t.replace('"version":3,', '"version":3,"version":3,')]);
  cases.push(["duplicate key in a component", "tcb", t.replace('{"svn":', '{"svn":1,"svn":')]);
  cases.push(["duplicate unknown key in a component", "tcb", t.replace('"category":"BIOS"', '"category":"BIOS","category":"BIOS"')]);
  cases.push(["duplicate key in a QE level", "qe", q.replace('"tcb":{"isvsvn":', '"tcb":{"isvsvn":1,"isvsvn":')]);
  cases.push(["duplicate key, escaped", "qe", q.replace('"isvprodid":', '"\\u0069svprodid":2,"isvprodid":')]);
  cases.push(["version as a string", "tcb", t.replace('"version":3', '"version":"3"')]);
  cases.push(["pcesvn negative", "tcb", t.replace('"pcesvn":', '"pcesvn":-')]);
  cases.push(["pcesvn too large", "tcb", t.replace(/"pcesvn":\d+/, '"pcesvn":65536')]);
  cases.push(["svn too large", "tcb", t.replace(/"svn":\d+/, '"svn":256')]);
  cases.push(["unknown status", "tcb", t.replace('"tcbStatus":"UpToDate"', '"tcbStatus":"Fine"')]);
  cases.push(["QE unknown status", "qe", q.replace('"tcbStatus":"UpToDate"', '"tcbStatus":"uptodate"')]);
  cases.push(["tcbLevels an object", "qe", q.replace('"tcbLevels":[', '"tcbLevels":{"a":[').replace(/]}$/, "]}}")]);
  cases.push(["fmspc short", "tcb", t.replace(/"fmspc":"[0-9a-fA-F]+"/, '"fmspc":"00806f05"')]);
  cases.push(["mrsigner not hex", "qe", q.replace('"mrsigner":"D', '"mrsigner":"Z')]);
  cases.push(["bad date", "tcb", t.replace(/"issueDate":"\d{4}-\d\d/, '"issueDate":"2025-13')]);
  cases.push(["date without zone", "qe", q.replace(/Z","nextUpdate"/, '","nextUpdate"')]);
  cases.push(["trailing garbage", "tcb", `${t} x`]);
  cases.push(["trailing comma", "tcb", t.replace(/}$/, ",}")]);
  cases.push(["missing pceId", "tcb", t.replace(/"pceId":"[0-9a-fA-F]+",/, "")]);
  cases.push(["missing QE mrsigner", "qe", q.replace(/"mrsigner":"[0-9A-Fa-f]+",/, "")]);
  cases.push(["tcbType 1", "tcb", t.replace('"tcbType":0', '"tcbType":1')]);
  cases.push(["top-level array", "qe", `[${q}]`]);
  cases.push(["raw control byte in a string", "tcb", t.replace('"BIOS"', '"BI\u0001OS"')]);
  cases.push(["bad escape in a skipped string", "tcb", t.replace('"BIOS"', '"BI\\xOS"')]);
  cases.push(["tdxModule null", "tcb", t.replace('"tdxModule":{', '"tdxModule":null,"x":{')]);
  cases.push(["advisoryIDs with a number", "tcb", t.replace('"advisoryIDs":["', '"advisoryIDs":[1,"')]);
  cases.push(["number with a bad exponent in an unknown field", "qe", q.replace('{"id"', '{"extra":1e,"id"')]);

  it.each(cases)("%s: both refuse", async (_name, kind, text) => {
    expect(tsAccepts(kind === "tcb" ? parseTcbInfo : parseQeIdentity, text)).toBe(false);
    const v = await chainVerdict(kind, text);
    expect(v).not.toBe("ok");
    expect(v).not.toBe("?");
  });

  it("well-formed extras both accept: unknown keys with any JSON value, whitespace, escapes in skipped strings", async () => {
    const extra = q
      .replace('{"id"', '{ "note" : { "a" : [ true , false , null , -1.5e+3 , "x\\"y\\u00e9" ] , "b" : {} , "c" : [] } ,\n\t"id"')
      .replace(/}$/, " }\r\n");
    expect(tsAccepts(parseQeIdentity, extra)).toBe(true);
    expect(chainQeView(await harness.read.parseQeIdentity([textHex(extra)]))).toEqual(tsQeView(parseQeIdentity(extra)));
  });
});

/** A TCB Info of 12 levels in the shape and size of Intel's production TDX documents. */
const INTEL_SHAPED_12 = await (async () => {
  const base = await createForgeWorld({ seed: "dcap-json-templates" });
  const world = await createForgeWorld({
    seed: "dcap-json-templates",
    tcbInfo: { tcbLevels: productionTcbLevels(12, base.pck.cpuSvn, base.pck.pceSvn, base.teeTcbSvn), edit: intelShapedTcbInfo },
  });
  return world.collateral.tcbInfo;
})();

describe("later TCB levels read against the first level's component arrays", () => {
  // Intel's production shape: every level's component arrays are the first level's text with other
  // one-digit SVNs, so the reader compares them word by word; each variant below breaks that sameness in
  // one later level and must read exactly as the TypeScript parser reads it (or be refused by both).
  const doc = INTEL_SHAPED_12;
  const MARK = '{"tcb":{"sgxtcbcomponents":[';
  /** `doc` with `edit` applied to the text of level `i` (document order) only. */
  const inLevel = (i: number, edit: (level: string) => string): string => {
    const parts = doc.split(MARK);
    parts[i + 1] = edit(parts[i + 1]!);
    return parts.join(MARK);
  };
  const accepted: [string, string][] = [
    ["Intel's shape throughout", doc],
    ["a two-digit SGX SVN in level 3", inLevel(3, (l) => l.replace('{"svn":2,', '{"svn":12,'))],
    ["a three-digit TDX SVN in level 5", inLevel(5, (l) => l.replace(/("tdxtcbcomponents":\[.*?\{"svn":)\d,/, "$1255,"))],
    ["another known category in level 2", inLevel(2, (l) => l.replace('"category":"BIOS","type":"Early', '"category":"OS/VMM","type":"Early'))],
    ["whitespace inside a component of level 4", inLevel(4, (l) => l.replace('{"svn":0}', '{ "svn" : 0 }'))],
    ["an unknown key in a component of level 6", inLevel(6, (l) => l.replace('{"svn":0}', '{"svn":0,"note":"x"}'))],
    ["keys in another order in level 7", inLevel(7, (l) => l.replace(/\{"svn":(\d),"category":"BIOS"\}/, '{"category":"BIOS","svn":$1}'))],
    ["a component without its type in level 8", inLevel(8, (l) => l.replace(',"type":"TXT SINIT"', ""))],
    ["a last level without TDX components", inLevel(11, (l) => l.replace(/,"tdxtcbcomponents":\[.*?\]\}/, "}"))],
    ["another advisory ID shape in level 9", inLevel(9, (l) => l.replace('"INTEL-SA-00961"', '"INTEL-SA-0096","TDX-SA-1"'))],
    ["an empty advisory list in level 10", inLevel(10, (l) => l.replace(/"advisoryIDs":\[[^\]]*\]/, '"advisoryIDs":[]'))],
    ["a two-digit SVN in the first level", inLevel(0, (l) => l.replace('{"svn":0}', '{"svn":10}'))],
  ];
  const refused: [string, string][] = [
    ["a leading zero in level 3", inLevel(3, (l) => l.replace('{"svn":2,', '{"svn":02,'))],
    ["SVN 256 in level 4", inLevel(4, (l) => l.replace('{"svn":0}', '{"svn":256}'))],
    ["a letter for an SVN digit in level 5", inLevel(5, (l) => l.replace('{"svn":0}', '{"svn":x}'))],
    ["an SVN as a string in level 6", inLevel(6, (l) => l.replace('{"svn":0}', '{"svn":"0"}'))],
    ["15 SGX components in level 7", inLevel(7, (l) => l.replace('{"svn":0},', ""))],
    ["17 TDX components in level 8", inLevel(8, (l) => l.replace(/("tdxtcbcomponents":\[)/, '$1{"svn":0},'))],
    ["a duplicate key in a component of level 9", inLevel(9, (l) => l.replace('{"svn":0}', '{"svn":0,"svn":0}'))],
    ["a raw control byte in a category of level 10", inLevel(10, (l) => l.replace('"BIOS"', '"BI\u0001OS"'))],
    ["an advisory ID with a number in level 11", inLevel(11, (l) => l.replace('"INTEL-SA-00960"', "960"))],
    ["an unterminated advisory ID in the last level", doc.slice(0, doc.lastIndexOf("INTEL-SA-") + 12)],
  ];

  it("60 seeded one-byte changes inside later levels' component arrays read or are refused as in TypeScript", async () => {
    const r = rng(23);
    const starts = [...doc.matchAll(/"(sgx|tdx)tcbcomponents":\[/g)].map((m) => m.index + m[0].length).slice(2);
    const bytes = ['"', ",", "}", "]", "{", ":", " ", "0", "1", "9", "a", "S", "\\"];
    let accepted = 0;
    for (let i = 0; i < 60; i++) {
      const start = r.pick(starts);
      const at = start + r.int(doc.indexOf("]", start) - start + 1);
      const text = doc.slice(0, at) + r.pick(bytes) + doc.slice(at + 1);
      if (text === doc) continue;
      if (tsAccepts(parseTcbInfo, text)) {
        accepted++;
        expect(chainTcbInfoView(await harness.read.parseTcbInfo([textHex(text)])), `change at ${at}`).toEqual(tsTcbInfoView(parseTcbInfo(text)));
      } else {
        const v = await chainVerdict("tcb", text);
        expect(v, `change at ${at}`).not.toBe("ok");
        expect(v, `change at ${at}`).not.toBe("?");
      }
    }
    console.log(`later-level changes: ${accepted} read by both, the others refused by both`);
    // digit changes keep the document valid: some of the changes are accepted, most are refused
    expect(accepted).toBeGreaterThan(0);
  });

  it.each(accepted)("%s: both read the same fields and levels", async (_name, text) => {
    // each variant changes the document (the first case is the document itself)
    expect(text === doc).toBe(_name === "Intel's shape throughout");
    expect(chainTcbInfoView(await harness.read.parseTcbInfo([textHex(text)]))).toEqual(tsTcbInfoView(parseTcbInfo(text)));
  });

  it.each(refused)("%s: both refuse", async (_name, text) => {
    expect(text).not.toBe(doc);
    expect(tsAccepts(parseTcbInfo, text)).toBe(false);
    const v = await chainVerdict("tcb", text);
    expect(v).not.toBe("ok");
    expect(v).not.toBe("?");
  });
});
