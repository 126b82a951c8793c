// sharp (libvips) doing the functions' work, for `cargo xtask bench`; the protocol is the Rust
// worker's (dev/bench/worker/src/main.rs):
//   node sharp_worker.mjs <thumbnail|avatar> <out_dir> <budget_ms> <min_runs> <file>...
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import sharp from 'sharp';

// One core, like the function and the other workers; no cache that would skip repeated work.
sharp.concurrency(1);
sharp.cache(false);

const [op, outDir, budgetMs, minRuns, ...files] = process.argv.slice(2);
const ops = {
  // EXIF orientation applied (rotate() with no angle), fit inside 256, never enlarged, JPEG q80.
  thumbnail: (buf) => sharp(buf).rotate().resize(256, 256, { fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: 80 }).toBuffer({ resolveWithObject: true }),
  avatar: (buf) => sharp(buf).rotate().resize(512, 512, { fit: 'cover' })
    .flatten({ background: '#ffffff' }).jpeg({ quality: 80 }).toBuffer({ resolveWithObject: true }),
};
const work = ops[op];
if (!work) { console.error(`sharp_worker: unknown operation ${op}`); process.exit(2); }

const median = (t) => { if (!t.length) return 0; const s = [...t].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const done = (t, elapsed) => {
  if (t.length < Math.max(Number(minRuns), 3)) return false;
  const now = median(t), before = median(t.slice(0, -2));
  return Math.abs(now - before) <= 0.01 * now || elapsed > Number(budgetMs) || t.length >= 500;
};

for (const file of files) {
  const buf = readFileSync(file);
  const times = [];
  const started = performance.now();
  let last;
  try {
    last = await work(buf); // warm-up, not timed
    while (!done(times, performance.now() - started)) {
      const t = performance.now();
      last = await work(buf);
      times.push(performance.now() - t);
    }
  } catch (e) {
    console.log(JSON.stringify({ file, runs: times.length, median_ms: median(times), rejected: String(e.message) }));
    continue;
  }
  const output = `${outDir}/${basename(file, extname(file))}.jpg`;
  writeFileSync(output, last.data);
  console.log(JSON.stringify({ file, runs: times.length, median_ms: median(times), out_bytes: last.data.length,
    width: last.info.width, height: last.info.height, output }));
}
const hwm = readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\s*(\d+)/);
console.log(JSON.stringify({ peak_rss_kib: Number(hwm ? hwm[1] : 0) }));
