import assert from "node:assert/strict";
import { test } from "node:test";
import { Emitter } from "../../src/extension/events";
import { pathKey, samePath } from "../../src/extension/paths";
import { CancelledError, isCancelled } from "../../src/extension/cancelled";

test("samePath ignores case where the file system does (macOS, Windows), not on Linux", () => {
  assert.equal(samePath("/Users/a/Runs/x", "/users/a/runs/X", "darwin"), true);
  assert.equal(samePath("C:\\Runs\\x", "c:/runs/X", "win32"), true);
  assert.equal(samePath("/home/a/runs/x", "/home/a/runs/X", "linux"), false);
  assert.equal(samePath("/home/a/runs/x", "/home/a/runs/x/", "linux"), true);
  assert.equal(samePath("/home/a/runs/../runs/x", "/home/a/runs/x", "linux"), true);
});

test("pathKey: one key per file, whatever the spelling, on each platform", () => {
  assert.equal(pathKey("/Users/A/Runs/", "darwin"), "/users/a/runs");
  assert.equal(pathKey("C:/Runs/Exp/", "win32"), "c:\\runs\\exp");
  assert.equal(pathKey("/Home/Runs/", "linux"), "/Home/Runs");
});

test("Emitter: the vscode.Event call shape (thisArgs, disposables); listeners' errors stay with them", () => {
  const e = new Emitter<number>();
  const seen: number[] = [];
  const subs: { dispose(): void }[] = [];
  const owner = {
    factor: 10,
    push(this: { factor: number }, n: number) {
      seen.push(n * this.factor);
    },
  };
  e.event(owner.push, owner, subs);
  e.event(() => {
    throw new Error("a listener's bug");
  });
  e.fire(1);
  assert.deepEqual(seen, [10]);
  assert.equal(subs.length, 1);
  subs[0]!.dispose();
  e.fire(2);
  assert.deepEqual(seen, [10]);
  e.dispose();
  e.event((n) => seen.push(n));
  e.fire(3);
  assert.deepEqual(seen, [10]);
});

test("cancellation is recognised by type, not by message", () => {
  assert.equal(isCancelled(new CancelledError()), true);
  assert.equal(isCancelled(new Error("cancelled")), false);
});
