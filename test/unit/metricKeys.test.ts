// Metric keys for the loss-curves picker (src/shared/metricKeys.ts): groups by `/` namespace and
// by train/val/test prefix or suffix, the default choice, and which keys can be an x axis.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  classifyKey,
  defaultChoices,
  groupKeys,
  isAccuracyLike,
  isLossLike,
  isMonotoneColumn,
  MonotoneTracker,
  xCandidates,
} from "../../src/shared/metricKeys";

test("classifyKey: `/` namespaces, split prefixes and suffixes, everything else on its own", () => {
  const read = (k: string): [string, string | null] => {
    const i = classifyKey(k);
    return [i.group, i.split];
  };
  assert.deepEqual(read("loss/train"), ["loss", "train"]);
  assert.deepEqual(read("loss/val"), ["loss", "val"]);
  assert.deepEqual(read("train/loss"), ["loss", "train"]);
  assert.deepEqual(read("eval/acc"), ["acc", "eval"]);
  assert.deepEqual(read("grad/layer1"), ["grad", null], "another namespace groups by its first segment");
  assert.deepEqual(read("train_loss"), ["loss", "train"]);
  assert.deepEqual(read("loss_train"), ["loss", "train"]);
  assert.deepEqual(read("val_acc"), ["acc", "val"]);
  assert.deepEqual(read("test-acc"), ["acc", "test"]);
  assert.deepEqual(read("valid.loss"), ["loss", "valid"]);
  assert.deepEqual(
    read("Validation_Loss"),
    ["Loss", "Validation"],
    "case-insensitive split words, the key's spelling kept",
  );
  assert.deepEqual(read("lr"), ["lr", null]);
  assert.deepEqual(read("grad_norm"), ["grad_norm", null], "an underscore alone is not a split");
  assert.deepEqual(
    read("trainable_params"),
    ["trainable_params", null],
    "a word that starts with a split word is not one",
  );
  assert.deepEqual(read("train"), ["train", null]);
  assert.deepEqual(read("/"), ["/", null]);
  assert.deepEqual(read("__proto__"), ["__proto__", null]);
});

test("groupKeys: loss groups first, then accuracy, then the rest; train, val, test within a group", () => {
  const groups = groupKeys([
    "lr",
    "acc/val",
    "loss/val",
    "grad_norm",
    "loss/train",
    "test_loss",
    "epoch",
    "train_acc",
    "__proto__",
  ]);
  assert.deepEqual(
    groups.map((g) => [g.group, g.keys.map((k) => k.key)]),
    [
      ["loss", ["loss/train", "loss/val", "test_loss"]],
      ["acc", ["train_acc", "acc/val"]],
      ["__proto__", ["__proto__"]],
      ["epoch", ["epoch"]],
      ["grad_norm", ["grad_norm"]],
      ["lr", ["lr"]],
    ],
  );
  assert.deepEqual(groupKeys([]), []);
});

test("loss-like and accuracy-like keys", () => {
  assert.ok(isLossLike("loss/train") && isLossLike("val_nll") && isLossLike("train_loss"));
  assert.ok(!isLossLike("lr") && !isLossLike("acc/val"));
  assert.ok(isAccuracyLike("acc/val") && isAccuracyLike("test_accuracy") && isAccuracyLike("top1_acc"));
  assert.ok(!isAccuracyLike("grad_norm"));
});

test("defaultChoices: the four classic keys as before; else loss left, accuracy right; else the first key", () => {
  assert.deepEqual(defaultChoices(["test_acc", "lr", "train_loss", "train_acc", "test_loss"]), [
    { key: "train_loss", axis: "left" },
    { key: "test_loss", axis: "left" },
    { key: "train_acc", axis: "right" },
    { key: "test_acc", axis: "right" },
  ]);
  assert.deepEqual(defaultChoices(["loss/train", "loss/val", "acc/val", "lr", "epoch"]), [
    { key: "loss/train", axis: "left" },
    { key: "loss/val", axis: "left" },
    { key: "acc/val", axis: "right" },
  ]);
  assert.deepEqual(defaultChoices(["train_loss", "test_loss"]), [
    { key: "train_loss", axis: "left" },
    { key: "test_loss", axis: "left" },
  ]);
  assert.deepEqual(defaultChoices(["epoch", "lr"], new Set(["epoch"])), [{ key: "lr", axis: "left" }]);
  assert.deepEqual(defaultChoices([]), []);
});

test("monotone columns: non-decreasing over the present finite values, gaps skipped, a range spanned", () => {
  assert.ok(isMonotoneColumn([0, 0, 0, 1, 1, 2]), "epochs repeat: non-decreasing is enough");
  assert.ok(
    isMonotoneColumn([null, 100, null, Number.NaN, 200, undefined, 300]),
    "null, NaN and absent lines are gaps",
  );
  assert.ok(isMonotoneColumn([-5, -1]), "negative values are fine");
  assert.ok(!isMonotoneColumn([0, 1, 2, 1, 3]), "one decrease vetoes");
  assert.ok(!isMonotoneColumn([3, 3, 3]), "a constant spans no range");
  assert.ok(!isMonotoneColumn([7]), "a single value");
  assert.ok(!isMonotoneColumn([null, null]), "no value");
  assert.ok(isMonotoneColumn([1, Number.POSITIVE_INFINITY, 2]), "infinity is a gap, not a value");
  assert.ok(!isMonotoneColumn([0.1, 0.01, 0.001]), "a decaying learning rate is not an x");
});

test("MonotoneTracker follows appended values; xCandidates over runs", () => {
  const t = new MonotoneTracker();
  assert.ok(t.monotone && !t.rising, "empty: no veto, no range");
  t.observe(1);
  t.observe(null);
  t.observe(2);
  assert.ok(t.rising);
  t.observe(1.5);
  assert.ok(!t.monotone && !t.rising, "a later decrease revokes it");

  const run = (cols: Record<string, (number | null)[]>): Map<string, MonotoneTracker> => {
    const m = new Map<string, MonotoneTracker>();
    for (const [k, vs] of Object.entries(cols)) {
      const tr = new MonotoneTracker();
      for (const v of vs) tr.observe(v);
      m.set(k, tr);
    }
    return m;
  };
  const a = run({
    epoch: [0, 0, 1, 1],
    tokens: [0, 512, 1024, null],
    lr: [0.1, 0.05, 0.01, 0.01],
    const: [2, 2, 2, 2],
    "loss/train": [3, 2, 1, 0.5],
  });
  const b = run({ epoch: [0, 0], tokens: [0, 256, 128] });
  assert.deepEqual(
    xCandidates([a]),
    ["step", "time", "epoch", "tokens"],
    "a constant key and a decreasing one are not x",
  );
  assert.deepEqual(
    xCandidates([a, b]),
    ["step", "time", "epoch"],
    "tokens decrease in run b; epoch is constant in b but rises in a",
  );
  assert.deepEqual(xCandidates([]), ["step", "time"]);
  assert.deepEqual(
    xCandidates([run({ step: [0, 1, 2], time: [0, 1, 2] })]),
    ["step", "time"],
    "step and time are listed once",
  );
});
