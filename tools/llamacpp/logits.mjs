// Runs token ids through llama.cpp (the prebuilt CPU build shipped by
// node-llama-cpp) and writes every position's raw logits as little-endian
// float32 (T × V) to OUT. An F32 KV cache (or KV, e.g. BF16, for keys and
// values), no flash attention (ASSETS.md §3.2).
//
// Usage: node logits.mjs MODEL.gguf IDS_JSON OUT.bin [KV]
// Env:   STRATA_ORACLE_DIR (default $HOME/.cache/strata/oracle)
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const oracle = process.env.STRATA_ORACLE_DIR || path.join(os.homedir(), ".cache/strata/oracle");
const { getLlama } = await import(pathToFileURL(path.join(oracle, "node_modules/node-llama-cpp/dist/index.js")).href);
const [modelPath, idsJson, outPath, kvType = "F32"] = process.argv.slice(2);
const ids = JSON.parse(idsJson);
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath });
const ctx = await model.createContext({
  contextSize: 256, batchSize: 64, flashAttention: false,
  experimentalKvCacheKeyType: kvType, experimentalKvCacheValueType: kvType,
});
const seq = ctx.getSequence();
const out = await seq.controlledEvaluate(ids.map((t) => [t, { generateNext: { logits: true } }]));
const rows = [];
let nv = 0;
for (let i = 0; i < ids.length; i++) {
  const lg = out[i].next.logits; // Map<token, logit>
  nv = Math.max(nv, lg.size);
  const row = new Float32Array(lg.size);
  for (const [t, v] of lg) row[t] = v;
  rows.push(row);
}
const buf = Buffer.alloc(4 * ids.length * nv);
rows.forEach((r, i) => Buffer.from(r.buffer).copy(buf, 4 * i * nv));
fs.writeFileSync(outPath, buf);
console.log(JSON.stringify({ positions: ids.length, vocab: nv }));
await llama.dispose();
