import { EXIT_FAIL, type Command } from "../framework.js";

/**
 * A command that is part of the product's interface but not built yet: it is listed by `--help`
 * (marked "not implemented yet") and exits 1 with a one-line message naming the issue.
 */
export function planned(name: string, summary: string, synopsis: string, issue: number): Command {
  return {
    name,
    summary: `${summary} (not implemented yet, issue #${issue})`,
    synopsis,
    options: {},
    maxPositionals: Infinity,
    async run({ io }) {
      io.stderr(`kms-registry: ${name}: not implemented yet (issue #${issue})\n`);
      return EXIT_FAIL;
    },
  };
}
