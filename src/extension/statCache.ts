// Results computed from a file, kept while the file is unchanged (same mtime and size): a hover
// over a checkpoint path is asked for again and again as the pointer moves, and each answer costs
// a header read and parse. Bounded: the least recently used file is dropped past `maxEntries`.
// No `vscode` here.

export interface FileStamp {
  mtimeMs: number;
  size: number;
}

export class StatCache<T> {
  private readonly entries = new Map<string, { stamp: FileStamp; value: Promise<T> }>();
  /** Computations started (not served from the cache). */
  computed = 0;

  constructor(private readonly maxEntries = 64) {}

  /** The value for `file` at `stamp`: cached when the file's stamp is unchanged, else `compute()` (a rejection is not kept). */
  get(file: string, stamp: FileStamp, compute: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(file);
    if (hit !== undefined && hit.stamp.mtimeMs === stamp.mtimeMs && hit.stamp.size === stamp.size) {
      // Most recently used goes last.
      this.entries.delete(file);
      this.entries.set(file, hit);
      return hit.value;
    }
    this.computed++;
    const value = compute();
    this.entries.delete(file);
    this.entries.set(file, { stamp: { mtimeMs: stamp.mtimeMs, size: stamp.size }, value });
    value.catch(() => {
      if (this.entries.get(file)?.value === value) this.entries.delete(file);
    });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    return value;
  }
}
