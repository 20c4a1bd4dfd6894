// PNG export of several canvases as one picture (stacked top to bottom on the theme background).

export function stackCanvasesPng(canvases: readonly HTMLCanvasElement[], background: string): string {
  const shown = canvases.filter((c) => c.width > 0 && c.height > 0);
  const w = shown.reduce((m, c) => Math.max(m, c.width), 1);
  const h = Math.max(
    1,
    shown.reduce((s, c) => s + c.height, 0),
  );
  const out = document.createElement("canvas");
  out.width = w;
  out.height = h;
  const ctx = out.getContext("2d");
  if (!ctx) return shown[0]?.toDataURL("image/png") ?? out.toDataURL("image/png");
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, w, h);
  let y = 0;
  for (const c of shown) {
    ctx.drawImage(c, 0, y);
    y += c.height;
  }
  return out.toDataURL("image/png");
}
