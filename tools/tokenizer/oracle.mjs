// oracle.mjs runs Hugging Face's Rust tokenizers (npm tokenizers@0.23.2,
// loaded from $STRATA_ORACLE_DIR/node_modules) over a batch of texts and
// prints the reference ids, offsets and decodes as JSON. The Go golden tests
// in engine/tokenizer drive it; it needs no network.
//
// stdin:  {"jobs": [{"tokenizer": "/abs/tokenizer.json", "texts": ["..."],
//           "add_special": false, "decode": true}]}
// stdout: {"results": [{"ids": [[...]], "offsets": [[[s, e], ...]],
//           "decoded": ["..."], "decoded_skip": ["..."]}]}
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const oracleDir = process.env.STRATA_ORACLE_DIR || path.join(process.env.HOME, ".cache/strata/oracle");
const require = createRequire(path.join(oracleDir, "package.json"));
const hf = require("tokenizers");

const req = JSON.parse(fs.readFileSync(0, "utf8"));
const cache = new Map();
const results = [];
for (const job of req.jobs) {
  let tok = cache.get(job.tokenizer);
  if (!tok) {
    tok = hf.Tokenizer.fromFile(job.tokenizer);
    cache.set(job.tokenizer, tok);
  }
  const res = { ids: [], offsets: [], decoded: [], decoded_skip: [] };
  for (const text of job.texts) {
    const enc = await tok.encode(text, null, { addSpecialTokens: !!job.add_special });
    const ids = Array.from(enc.getIds());
    res.ids.push(ids);
    res.offsets.push(enc.getOffsets());
    if (job.decode) {
      res.decoded.push(await tok.decode(ids, false));
      res.decoded_skip.push(await tok.decode(ids, true));
    }
  }
  results.push(res);
}
process.stdout.write(JSON.stringify({ results }));
