// ESLint for the report's script. Its parts run in the page inside one function that
// declares the shared namespace `rh` (see src/rnaheat/report/build.py), so each part is
// linted as a browser script with `rh` as its only project global.
const js = require("@eslint/js");
const globals = require("globals");

module.exports = [
  // Only the report's script is ours to lint: never the virtualenv or installed packages.
  { ignores: [".venv/**", "node_modules/**", "demo/**", "test-artifacts/**"] },
  {
    files: ["src/rnaheat/report/assets/js/**/*.js"],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "script",
      globals: { ...globals.browser, rh: "readonly" },
    },
    rules: {
      ...js.configs.recommended.rules,
      "max-lines-per-function": ["error", { max: 120, skipBlankLines: true, skipComments: true }],
      complexity: ["error", 20],
      "max-depth": ["error", 4],
      eqeqeq: "error",
      "no-var": "error",
      "prefer-const": "error",
      "no-shadow": "error",
      "no-implicit-globals": "error",
      strict: ["error", "never"],
    },
  },
];
