// The getting-started walkthrough (package.json contributes.walkthroughs): open or create an
// example, train it, open the panels, read a run written by PyTorch; every step's media exists,
// and every command it links or waits for is one the extension contributes.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../support";

interface Step {
  id: string;
  title: string;
  description: string;
  media: { markdown?: string; image?: string; altText?: string };
  completionEvents?: string[];
}
interface Manifest {
  contributes: {
    commands: Array<{ command: string }>;
    walkthroughs?: Array<{ id: string; title: string; steps: Step[] }>;
  };
}

test("walkthrough: four steps, each with its media in media/walkthrough/ and commands that exist", () => {
  const root = repoRoot();
  const m = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Manifest;
  const walkthroughs = m.contributes.walkthroughs ?? [];
  assert.equal(walkthroughs.length, 1, "one walkthrough");
  const w = walkthroughs[0]!;
  assert.equal(w.id, "gettingStarted");
  assert.deepEqual(
    w.steps.map((s) => s.id),
    ["createExample", "train", "panels", "pytorch"],
  );
  const commands = new Set(m.contributes.commands.map((c) => c.command));
  for (const step of w.steps) {
    const media = step.media.markdown ?? step.media.image ?? "";
    assert.match(media, /^media\/walkthrough\//, `${step.id}: media in media/walkthrough/`);
    assert.ok(existsSync(join(root, media)), `${step.id}: ${media} exists`);
    if (step.media.image !== undefined) assert.ok((step.media.altText ?? "") !== "", `${step.id}: alt text`);
    const linked = [...step.description.matchAll(/\(command:([\w.]+)\)/g)].map((x) => x[1]!);
    assert.equal(linked.length, 1, `${step.id}: one command button`);
    for (const id of linked) assert.ok(commands.has(id), `${step.id}: links ${id}, a contributed command`);
    for (const e of step.completionEvents ?? []) {
      const [kind, id] = e.split(":") as [string, string];
      if (kind === "onCommand") assert.ok(commands.has(id), `${step.id}: completes on ${id}, a contributed command`);
    }
    assert.ok((step.completionEvents ?? []).length > 0, `${step.id}: has a completion event`);
  }
  const [create, train, panels, pytorch] = w.steps;
  assert.match(create!.description, /command:learningMechanics\.createExample/);
  assert.match(train!.description, /command:learningMechanics\.train/);
  assert.match(panels!.description, /command:learningMechanics\.openGrokking/);
  // The PyTorch step links the repository's docs/pytorch.md (the .vsix does not carry docs/).
  assert.match(pytorch!.description, /\]\(https:\/\/github\.com\/[^)]+\/blob\/main\/docs\/pytorch\.md\)/);
  assert.ok(existsSync(join(root, "docs", "pytorch.md")));
  assert.match(pytorch!.description, /command:learningMechanics\.openRun/);
});
