import assert from "node:assert/strict";
import { test } from "node:test";
import { GrokkingWatch } from "../../src/extension/grokkingWatch";

test("memorization, then generalization, each announced once, with t_mem, delay and ratio", () => {
  const watch = new GrokkingWatch();
  const news: string[] = [];
  for (let step = 0; step <= 3000; step += 100) {
    const rec = { step, time: 0, train_acc: step >= 300 ? 1 : 0.2, test_acc: step >= 2000 ? 0.97 : 0.01 };
    for (const n of watch.feed("/r", "modAdd", rec)) news.push(n.message);
  }
  assert.deepEqual(news, [
    "modAdd memorized its training set at step 300; watching for generalization.",
    "modAdd generalized at step 2000, 1700 steps after memorizing at step 300 (t_gen/t_mem = 6.7).",
  ]);
});

test("a test accuracy that touches the threshold without holding is not news; runs are independent", () => {
  const watch = new GrokkingWatch(() => ({ hold: 2 }));
  const spikes = [0.1, 0.99, 0.1, 0.99, 0.1].map((acc, i) =>
    watch.feed("/a", "a", { step: i * 10, time: 0, test_acc: acc }),
  );
  assert.equal(spikes.flat().length, 0);
  assert.equal(watch.feed("/b", "b", { step: 0, time: 0, test_acc: 0.99 }).length, 0);
  assert.equal(watch.feed("/b", "b", { step: 10, time: 0, test_acc: 0.99 })[0]?.event.kind, "generalized");
});
