// Lint: ESLint with typescript-eslint's recommended rules; formatting is Prettier's job (`npm run format`).
// (Biome was the first choice, but its per-platform binaries are not all on the registry this project can reach,
// which breaks `npm ci` from the lock file on a fresh machine.)
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "deploy/kafka/run/", "deploy/kafka/target/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      "no-empty": ["error", { allowEmptyCatch: true }],
      // A `let` read by a closure before its one assignment (late-bound wiring) is not a const candidate.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // The map's page: plain browser JavaScript served as it is, with Leaflet and topojson-client as globals.
    files: ["pipelines/map/page/**/*.js"],
    languageOptions: {
      sourceType: "script",
      globals: {
        window: "readonly",
        document: "readonly",
        location: "readonly",
        fetch: "readonly",
        WebSocket: "readonly",
        requestAnimationFrame: "readonly",
        setTimeout: "readonly",
        L: "readonly",
        topojson: "readonly",
      },
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } },
  },
);
