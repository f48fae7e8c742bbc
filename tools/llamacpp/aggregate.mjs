// Times llama.cpp (the prebuilt CPU build shipped by node-llama-cpp)
// generating for SEQS concurrent sequences of one context: each evaluates
// its own PROMPT_LEN-token prompt (ids as the Strata serving benchmark
// makes them) and generates N tokens greedily; llama.cpp batches the
// sequences' tokens into shared evaluations. Prints the aggregate generated
// tokens/s (prefill included, as BenchmarkAggregateStreams counts it).
//
// Usage: node aggregate.mjs MODEL.gguf SEQS N PROMPT_LEN THREADS
// Env:   STRATA_ORACLE_DIR (default $HOME/.cache/strata/oracle)
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const oracle = process.env.STRATA_ORACLE_DIR || path.join(os.homedir(), ".cache/strata/oracle");
const { getLlama } = await import(pathToFileURL(path.join(oracle, "node_modules/node-llama-cpp/dist/index.js")).href);
const [modelPath, seqsArg, nArg, promptArg, threadsArg] = process.argv.slice(2);
const seqs = Number(seqsArg), n = Number(nArg), promptLen = Number(promptArg), threads = Number(threadsArg);
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error", maxThreads: threads });
const model = await llama.loadModel({ modelPath });
const ctx = await model.createContext({
  contextSize: (promptLen + n + 16) * seqs, sequences: seqs, batchSize: 512, threads, flashAttention: false,
});
const t0 = performance.now();
await Promise.all(Array.from({ length: seqs }, async (_, i) => {
  const seq = ctx.getSequence();
  const ids = Array.from({ length: promptLen }, (_, j) => (i * 131 + j * 17 + 1) % 8000);
  let got = 0;
  for await (const tok of seq.evaluate(ids, { temperature: 0 })) {
    if (++got >= n) break;
  }
}));
const el = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ tok_s: (seqs * n) / el, seqs, tokens: n, threads }));
await llama.dispose();
