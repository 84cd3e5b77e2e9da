/** A progress bar on stderr when it is a terminal; silent otherwise (logs and CI stay clean). */
export function progressBar(
  label: string,
  unit: (n: number) => string = (n) => `${(n / 1e6).toFixed(1)} MB`,
  stream: NodeJS.WriteStream = process.stderr,
): { update(done: number, total: number): void; done(): void } {
  if (!stream.isTTY) return { update() {}, done() {} };
  let last = 0;
  let shown = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      shown = true;
      const width = 30;
      const frac = total ? done / total : 1;
      const filled = Math.round(frac * width);
      stream.write(
        `\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(frac * 100).toFixed(0)}% ${unit(done)} of ${unit(total)}`,
      );
    },
    done() {
      if (shown) stream.write('\n');
    },
  };
}
