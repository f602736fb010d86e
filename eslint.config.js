import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "artifacts/", "cache/", "types/", "coverage/", "ignition/deployments/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: "module" },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "no-console": "error",
    },
  },
  {
    // The CLI and scripts talk to the terminal through CliIO / explicit writes; bench and scripts may log.
    files: ["bench/**", "scripts/**", "test/**"],
    rules: { "no-console": "off" },
  },
);
