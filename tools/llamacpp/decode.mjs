// Times batch-1 greedy decoding with llama.cpp (the prebuilt CPU build
// shipped by node-llama-cpp): evaluates the prompt ids, then generates N
// tokens, ROUNDS times, and prints the best decode rate (tokens/s after the
// first generated token) as JSON. F16 KV cache (llama.cpp's default), no
// flash attention, THREADS threads.
//
// Usage: node decode.mjs MODEL.gguf IDS_JSON N ROUNDS THREADS
// Env:   STRATA_ORACLE_DIR (default $HOME/.cache/strata/oracle)
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const oracle = process.env.STRATA_ORACLE_DIR || path.join(os.homedir(), ".cache/strata/oracle");
const { getLlama } = await import(pathToFileURL(path.join(oracle, "node_modules/node-llama-cpp/dist/index.js")).href);
const [modelPath, idsJson, nArg, roundsArg, threadsArg] = process.argv.slice(2);
const ids = JSON.parse(idsJson);
const n = Number(nArg), rounds = Number(roundsArg), threads = Number(threadsArg);
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error", maxThreads: threads });
const model = await llama.loadModel({ modelPath });
const ctx = await model.createContext({ contextSize: 512, batchSize: 512, threads, flashAttention: false });
let best = 0;
for (let r = 0; r < rounds; r++) {
  const seq = ctx.getSequence();
  let got = 0, first = 0;
  for await (const tok of seq.evaluate(ids, { temperature: 0 })) {
    got++;
    if (got === 1) first = performance.now();
    if (got >= n) break;
  }
  const rate = (got - 1) / ((performance.now() - first) / 1000);
  best = Math.max(best, rate);
  seq.dispose();
}
console.log(JSON.stringify({ tok_s: best, tokens: n, rounds, threads }));
await llama.dispose();
