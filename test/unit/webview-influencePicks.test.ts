// Rows picked by hand and label groups of the influence panel (src/webview/influence/picks.ts), in Node.
import assert from "node:assert/strict";
import { test } from "node:test";
import { keepShown, labelGroup, pickRange, togglePick } from "../../src/webview/influence/picks";

const sorted = (s: Set<number>): number[] => [...s].sort((a, b) => a - b);

test("togglePick adds an unpicked example and removes a picked one, leaving the input alone", () => {
  const start = new Set([3]);
  assert.deepEqual(sorted(togglePick(start, 7)), [3, 7]);
  assert.deepEqual(sorted(togglePick(start, 3)), []);
  assert.deepEqual(sorted(start), [3]);
});

test("pickRange adds the drawn rows between the anchor and the clicked row, either direction", () => {
  // Drawn order differs from index order (a sort): the range follows what is drawn.
  const drawn = [9, 0, 6, 3, 12, 15];
  assert.deepEqual(sorted(pickRange(new Set(), drawn, 0, 12)), [0, 3, 6, 12]);
  assert.deepEqual(sorted(pickRange(new Set([15]), drawn, 12, 0)), [0, 3, 6, 12, 15]);
  assert.deepEqual(sorted(pickRange(new Set(), drawn, 6, 6)), [6]);
  // No anchor, or an anchor not drawn: only the clicked row.
  assert.deepEqual(sorted(pickRange(new Set([9]), drawn, undefined, 3)), [3, 9]);
  assert.deepEqual(sorted(pickRange(new Set(), drawn, 42, 3)), [3]);
  // A row not drawn adds nothing.
  assert.deepEqual(sorted(pickRange(new Set([9]), drawn, 0, 42)), [9]);
});

test("keepShown drops picks the refreshed run no longer scores", () => {
  assert.deepEqual(sorted(keepShown(new Set([1, 4, 8]), [{ index: 4 }, { index: 8 }, { index: 9 }])), [4, 8]);
});

test("labelGroup: the indices of the examples with exactly that label, ascending", () => {
  const examples = [
    { index: 5, label: "odd" },
    { index: 2, label: "even" },
    { index: 1, label: "odd" },
    { index: 7, label: "odd " },
  ];
  assert.deepEqual(labelGroup(examples, "odd"), [1, 5]);
  assert.deepEqual(labelGroup(examples, "even"), [2]);
  assert.deepEqual(labelGroup(examples, "none"), []);
});
