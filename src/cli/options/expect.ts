/**
 * `--expect FILE` of `verify` and `publish`: a measurement policy (JSON: allowed `mrTd`, `rtMr0`–`rtMr2`,
 * `osImageHash`, `mrAggregated`, `composeHash`, `appId`, `deviceId`), read with the bounded reader and
 * validated strictly (an unknown key, bad hex or a wrong length is an input error naming the field).
 */
import { parseMeasurementPolicy, type MeasurementPolicy } from "../../dstack/policy.js";
import { optString, type CommandContext, type OptionSpec } from "../framework.js";
import { readInputFile } from "../io.js";

export const EXPECT_OPTION: Record<string, OptionSpec> = {
  expect: {
    type: "string",
    valueName: "FILE",
    description: "measurement policy JSON (allowed mrTd, rtMr0-2, osImageHash, mrAggregated, composeHash, appId, deviceId); each rule is a check",
  },
};

/** The policy of `--expect FILE`, or undefined without the option. */
export async function readExpectPolicy(ctx: CommandContext): Promise<MeasurementPolicy | undefined> {
  const path = optString(ctx, "expect");
  if (path === undefined) return undefined;
  return parseMeasurementPolicy(await readInputFile(ctx.io, path, "measurement policy file", "measurementPolicy"));
}
