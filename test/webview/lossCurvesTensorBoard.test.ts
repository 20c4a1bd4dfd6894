// The loss-curves panel showing a TensorBoard log, in a real Chromium: an event file (written with
// TFRecord framing and protobufjs, as a SummaryWriter writes one scalar per event, plus one record
// with a bad checksum) read by the extension's own panel content (LossCurvesContent), whose `init`
// and `append` messages are posted to the page. The picker lists the log's tags with their
// namespaces, the default plot draws both losses with every point, the legend counts the bad
// record like a bad metrics line, and an appended event reaches the drawn curve.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { LossCurvesContent } from "../../src/extension/panels/lossCurvesPanel";
import { RunIndex } from "../../src/extension/runIndex";
import { isLossCurvesHostMessage, type LossCurvesHostMessage } from "../../src/shared/panels/lossCurves";
import { encodeEvent } from "../../src/shared/tensorboardEvents";
import { frameRecord } from "../../src/shared/tfRecord";
import { launchChromium, openLossCurves, postAndDraw, serveLossCurves, type Served } from "./lossCurvesHarness";

const root = path.resolve(__dirname, "../../..");

let browser: Browser;
let served: Served;
let page: Page;
let logDir: string;
let content: LossCurvesContent;

const event = (step: number, tag: string, value: number): Buffer =>
  frameRecord(encodeEvent({ wallTime: 1_700_000_000 + step, step, values: [{ tag, value }] }));

function message(x: unknown): LossCurvesHostMessage {
  assert.ok(isLossCurvesHostMessage(x), JSON.stringify(x));
  return x;
}

async function hook<T>(p: Page, expr: string): Promise<T> {
  return (await p.evaluate(`window.__lmPanel.${expr}`)) as T;
}

before(async () => {
  const tmp = fs.mkdtempSync(path.join(root, "dist", "tb-webview-"));
  logDir = path.join(tmp, "Dec03_host");
  fs.mkdirSync(logDir);
  const parts: Buffer[] = [
    frameRecord(encodeEvent({ wallTime: 1_700_000_000, step: 0, fileVersion: "brain.Event:2" })),
  ];
  for (let s = 0; s < 200; s++) {
    parts.push(event(s, "loss/train", 2 * Math.exp(-s / 50)));
    if (s % 10 === 0) parts.push(event(s, "loss/test", 2.2 * Math.exp(-s / 60)));
    if (s % 10 === 0) parts.push(event(s, "acc/test", Math.min(1, s / 150)));
  }
  const bad = event(200, "loss/train", 9);
  bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 0xff; // its data checksum
  parts.push(bad);
  fs.writeFileSync(path.join(logDir, "events.out.tfevents.1700000000.host.1.0"), Buffer.concat(parts));
  content = new LossCurvesContent({ runIndex: new RunIndex([tmp]) }, [logDir]);

  served = await serveLossCurves(root);
  browser = await launchChromium();
  ({ page } = await openLossCurves(browser, served.origin));
});

after(async () => {
  await page?.close();
  await browser?.close();
  await served?.close();
  if (logDir) fs.rmSync(path.dirname(logDir), { recursive: true, force: true });
});

test("a TensorBoard log's tags are the panel's metrics; both losses drawn with every point; the bad record counted", async () => {
  const init = content.init(undefined);
  assert.deepEqual(init.problems, []);
  const msg = message(init.messages[0]);
  await postAndDraw(page, msg);
  await page.click("#pickerSummary");
  assert.deepEqual(await page.locator("#pickerPanel .picker-group-name").allTextContents(), ["loss", "acc"]);
  assert.deepEqual(await page.locator("#pickerPanel .picker-key").allTextContents(), [
    "loss/train",
    "loss/test",
    "acc/test",
  ]);
  await page.keyboard.press("Escape");
  const lengths = await hook<{ label: string; length: number }[]>(page, "datasetLengths()");
  const label = `${path.basename(path.dirname(logDir))}/Dec03_host`;
  const of = (key: string): number => lengths.find((d) => d.label === `${label} ${key}`)?.length ?? -1;
  assert.equal(of("loss/train"), 200, lengths.map((d) => `${d.label}: ${d.length}`).join(" | "));
  assert.equal(of("loss/test"), 20);
  assert.match((await page.locator("#legend").textContent()) ?? "", /1 line could not be read/);
});

test("an event appended to the log reaches the drawn curve", async () => {
  const file = path.join(logDir, "events.out.tfevents.1700000000.host.1.0");
  fs.appendFileSync(file, event(250, "loss/train", 0.01));
  const update = content.refresh(logDir);
  assert.notEqual(update, "init");
  if (update === "init") return;
  const msg = message(update.messages[0]);
  assert.equal(msg.type, "append");
  await postAndDraw(page, msg);
  const lengths = await hook<{ label: string; length: number }[]>(page, "datasetLengths()");
  assert.equal(lengths.find((d) => d.label.endsWith(" loss/train"))?.length, 201);
  assert.deepEqual(
    await hook<[number, number] | null>(
      page,
      `datasetXRange(${JSON.stringify(lengths.find((d) => d.label.endsWith(" loss/train"))?.label)})`,
    ),
    [0, 250],
  );
});
