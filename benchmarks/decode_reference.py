"""PyTorch eager reference for `benchmarks/run.sh decode`: a plain Qwen2/Llama forward with a KV
cache (what a user writes, or gets from transformers' eager path), over the same HF directory the
Java side wrote (fp32 safetensors, read without the safetensors package). Prints one JSON object
whose keys match DecodeBench's rows. Never used by the tests."""
import argparse, json, math, os, struct, sys, time

import torch
import torch.nn.functional as F


def load_safetensors(directory):
    tensors = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".safetensors"):
            continue
        with open(os.path.join(directory, name), "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
            data = f.read()
        for key, meta in header.items():
            if key == "__metadata__":
                continue
            assert meta["dtype"] == "F32", f"{key}: only F32 is read here"
            start, end = meta["data_offsets"]
            t = torch.frombuffer(bytearray(data[start:end]), dtype=torch.float32)
            tensors[key] = t.view(meta["shape"]) if meta["shape"] else t
    return tensors


class Qwen2:
    def __init__(self, directory):
        self.cfg = json.load(open(os.path.join(directory, "config.json")))
        self.w = load_safetensors(directory)
        c = self.cfg
        self.heads, self.kv = c["num_attention_heads"], c["num_key_value_heads"]
        self.d = c.get("head_dim") or c["hidden_size"] // self.heads
        self.layers = c["num_hidden_layers"]
        self.eps = c["rms_norm_eps"]
        theta = c.get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.d, 2, dtype=torch.float32) / self.d))
        self.head = self.w.get("lm_head.weight", self.w["model.embed_tokens.weight"])

    def params(self):
        return list(self.w.values())

    def rms(self, x, weight):
        v = x.pow(2).mean(-1, keepdim=True)
        return weight * (x * torch.rsqrt(v + self.eps))

    def rope(self, x, pos):
        freqs = pos[:, None].float() * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), -1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        x1, x2 = x[..., : self.d // 2], x[..., self.d // 2 :]
        return x * cos + torch.cat((-x2, x1), -1) * sin

    def forward(self, ids, cache=None):
        """ids [B, T]; cache: list of (k, v) per layer or None; returns logits of the last
        position [B, V] and the new cache."""
        b, t = ids.shape
        past = 0 if cache is None else cache[0][0].shape[2]
        pos = torch.arange(past, past + t)
        h = F.embedding(ids, self.w["model.embed_tokens.weight"])
        new_cache = []
        for i in range(self.layers):
            p = f"model.layers.{i}."
            x = self.rms(h, self.w[p + "input_layernorm.weight"])
            def proj(name):
                return F.linear(x, self.w[p + name + ".weight"], self.w.get(p + name + ".bias"))
            q = proj("self_attn.q_proj").view(b, t, self.heads, self.d).transpose(1, 2)
            k = proj("self_attn.k_proj").view(b, t, self.kv, self.d).transpose(1, 2)
            v = proj("self_attn.v_proj").view(b, t, self.kv, self.d).transpose(1, 2)
            q, k = self.rope(q, pos), self.rope(k, pos)
            if cache is not None:
                k = torch.cat((cache[i][0], k), 2)
                v = torch.cat((cache[i][1], v), 2)
            new_cache.append((k, v))
            rep = self.heads // self.kv
            kk, vv = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
            a = attention(q, kk, vv, causal=(cache is None and t > 1))
            a = a.transpose(1, 2).reshape(b, t, self.heads * self.d)
            h = h + F.linear(a, self.w[p + "self_attn.o_proj.weight"], self.w.get(p + "self_attn.o_proj.bias"))
            x = self.rms(h, self.w[p + "post_attention_layernorm.weight"])
            g = F.linear(x, self.w[p + "mlp.gate_proj.weight"])
            u = F.linear(x, self.w[p + "mlp.up_proj.weight"])
            h = h + F.linear(F.silu(g) * u, self.w[p + "mlp.down_proj.weight"])
        h = self.rms(h, self.w["model.norm.weight"])
        return h, new_cache


def attention(q, k, v, causal):
    """softmax(q k^T / sqrt(d)) v, causal when asked; torch >= 2.0's fused kernel where present
    (Debian's python3-torch 1.13 has none: written out there)."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    if causal:
        t, s = scores.shape[-2], scores.shape[-1]
        mask = torch.ones(t, s, dtype=torch.bool).triu(s - t + 1)
        scores = scores.masked_fill(mask, float("-inf"))
    return torch.matmul(torch.softmax(scores, -1), v)


def blas_library():
    """The BLAS this process runs matmuls on (a generic build of torch uses whatever
    libblas.so.3 points to: Debian's reference BLAS is ~100x slower than OpenBLAS)."""
    torch.randn(64, 64) @ torch.randn(64, 64)
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() or "mkl" in line.lower()}
        return ", ".join(sorted(os.path.basename(l) for l in libs if l.startswith("/"))) or "built in"
    except OSError:
        return "unknown"


def tokens(n, vocab, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (n,), generator=g)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batches", default="1,4,16,64")
    ap.add_argument("--prompt", type=int, default=64)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--train-tokens", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    m = Qwen2(a.dir)
    print(f"PyTorch reference: torch {torch.__version__}, {torch.get_num_threads()} threads, BLAS {blas_library()}",
          file=sys.stderr)
    vocab = min(m.cfg["vocab_size"], 1000)
    out = {}

    def decode(batch, prompt, steps):
        best_prefill = best_decode = 0.0
        for rep in range(a.repeats):
            with torch.no_grad():
                ids = torch.stack([tokens(prompt, vocab, b) for b in range(batch)])
                start = time.perf_counter()
                h, cache = m.forward(ids)
                nxt = F.linear(h[:, -1], m.head).argmax(-1, keepdim=True)
                best_prefill = max(best_prefill, batch * prompt / (time.perf_counter() - start))
                start = time.perf_counter()
                for _ in range(steps):
                    h, cache = m.forward(nxt, cache)
                    nxt = F.linear(h[:, -1], m.head).argmax(-1, keepdim=True)
                best_decode = max(best_decode, batch * steps / (time.perf_counter() - start))
        return best_prefill, best_decode

    decode(1, 8, 2)
    for b in [int(x) for x in a.batches.split(",")]:
        out[f"decode b={b}"] = decode(b, a.prompt, a.steps)[1]
    out[f"prefill {4 * a.prompt}"] = decode(1, 4 * a.prompt, 1)[0]
    for p in m.params():
        p.requires_grad_(True)
    best = math.inf
    n = a.train_tokens
    for rep in range(a.repeats):
        ids = tokens(n + 1, vocab, 99)
        start = time.perf_counter()
        h, _ = m.forward(ids[None, :n])
        logits = F.linear(h[0], m.head)
        loss = -F.log_softmax(logits, -1).gather(1, ids[1:, None]).mean()
        loss.backward()
        best = min(best, time.perf_counter() - start)
        for p in m.params():
            p.grad = None
    out[f"train step {n} (s)"] = best
    print(json.dumps(out))


if __name__ == "__main__":
    main()
