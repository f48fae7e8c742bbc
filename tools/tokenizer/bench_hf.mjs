// bench_hf.mjs times HF's Rust tokenizer (npm tokenizers@0.23.2) encoding a
// corpus on one thread, for BenchmarkEncodeVsHF in engine/tokenizer.
// Run with RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false.
// usage: node bench_hf.mjs tokenizer.json corpus.json [passes]
// corpus.json is a JSON array of documents; prints
// {"bytes": N, "tokens": N, "seconds": S, "mb_per_s": X} for the timed passes
// (one warm-up pass first, as Go's benchmark loop also runs warm).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const oracleDir = process.env.STRATA_ORACLE_DIR || path.join(process.env.HOME, ".cache/strata/oracle");
const require = createRequire(path.join(oracleDir, "package.json"));
const hf = require("tokenizers");

const [tokPath, corpusPath, passesArg] = process.argv.slice(2);
const passes = Number(passesArg || 3);
const tok = hf.Tokenizer.fromFile(tokPath);
const docs = JSON.parse(fs.readFileSync(corpusPath, "utf8"));
const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d), 0);

async function pass() {
  let n = 0;
  for (const d of docs) n += (await tok.encode(d, null, { addSpecialTokens: false })).getIds().length;
  return n;
}
await pass();
const t0 = process.hrtime.bigint();
let tokens = 0;
for (let i = 0; i < passes; i++) tokens = await pass();
const seconds = Number(process.hrtime.bigint() - t0) / 1e9 / passes;
process.stdout.write(JSON.stringify({ bytes, tokens, seconds, mb_per_s: bytes / seconds / 1e6 }) + "\n");
