import assert from "node:assert/strict";
import { test } from "node:test";
import { maskNonCode, mergeWithTrainerList, scanModelSystems } from "../../src/extension/experimentScanner";
import type { SystemSummary } from "../../src/shared/trainerProtocol";

const source = [
  'import { modelSystem, models, optimizers, tasks } from "learning-mechanics";', // 0
  "export const modAdd = modelSystem({", // 1
  "  task: tasks.modularArithmetic({ p: 97 }),",
  "});",
  "export let typed: ReturnType<typeof modelSystem> = modelSystem({ steps: 10 });", // 4
  "  export   const   spaced=lm.modelSystem<Foo>(", // 5
  "  {});",
  "export const helper = makeSystem({});", // 7: not modelSystem
  "// export const inLineComment = modelSystem({});",
  "/* export const inBlock = modelSystem({});", // 9
  "   export const inBlock2 = modelSystem({}); */",
  'const s = "export const inString = modelSystem(";',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: source text for the scanner, `${` is meant literally
  "const t = `export const inTemplate = modelSystem( ${ `nested ${'}'}` } still template`;", // 12
  "const r = /export const inRegex = modelSystem\\(/;",
  "const notExported = modelSystem({});", // 14
  "const ratio = a / b; export const afterDivision = modelSystem({});", // 15
  "export default modelSystem({ steps: 5 });", // 16
].join("\n");

test("scanModelSystems finds exported modelSystem(...) declarations with 0-based positions", () => {
  assert.deepEqual(scanModelSystems(source), [
    { name: "modAdd", line: 1, column: 13 },
    { name: "typed", line: 4, column: 11 },
    { name: "spaced", line: 5, column: 19 },
    { name: "afterDivision", line: 15, column: 34 },
    { name: "default", line: 16, column: 7 },
  ]);
});

test("maskNonCode blanks comments, strings, templates and regexes, keeping positions and newlines", () => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: source text for the scanner, `${` is meant literally
  const text = 'a = "x//y"; // c\nb = `t ${ f("}") } u` /* k */ + /[/]x/g / 2;';
  const masked = maskNonCode(text);
  assert.equal(masked.length, text.length);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: source text for the scanner, `${` is meant literally
  assert.equal(masked, 'a = "    ";     \nb = `  ${ f(" ") }  `         + /    /g / 2;');
});

test("CRLF line endings keep line numbers", () => {
  assert.deepEqual(scanModelSystems("// x\r\nexport const a = modelSystem({});\r\n"), [
    { name: "a", line: 1, column: 13 },
  ]);
});

test("mergeWithTrainerList: the scan alone until the trainer answers; then the trainer's systems at its locations", () => {
  const scanned = [
    { name: "a", line: 3, column: 13 },
    { name: "b", line: 10, column: 13 },
    { name: "gone", line: 20, column: 13 },
  ];
  assert.deepEqual(
    mergeWithTrainerList(scanned, undefined),
    scanned.map((s) => ({ ...s, source: "scanner" })),
  );
  const listed: SystemSummary[] = [
    { name: "b", location: { file: "/exp/x.experiment.ts", line: 12, column: 23 }, description: "B", problems: [] }, // moved: trainer wins
    { name: "a", description: "A", problems: [] }, // no location: scanned position
    { name: "fromHelper", location: { file: "/exp/helpers.ts", line: 5, column: 1 }, description: "H", problems: [] }, // elsewhere, not scanned
  ];
  assert.deepEqual(
    mergeWithTrainerList(scanned, listed, "/exp/x.experiment.ts").map(({ summary, ...p }) => ({
      ...p,
      d: summary?.description,
    })),
    [
      { name: "fromHelper", line: 0, column: 0, source: "none", d: "H" },
      { name: "a", line: 3, column: 13, source: "scanner", d: "A" },
      { name: "b", line: 11, column: 22, source: "trainer", d: "B" },
    ],
  );
});
