// Headless CLI: `lm train FILE`, `lm list FILE`. (being written)
export {};
