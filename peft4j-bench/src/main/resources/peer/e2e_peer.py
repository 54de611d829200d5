"""The PyTorch side of peft4j's end-to-end benchmark (E2eBench), driven over stdin/stdout.

Usage: OPENBLAS_NUM_THREADS=B OMP_NUM_THREADS=T python3 e2e_peer.py T

It builds the same MiniLM as peft4j (a plain post-LN BERT written here in torch: transformers is not
needed), from the weights peft4j exported, with the same adapter and its same initial tensors, a
mean-pooling classification head and AdamW, and trains or runs it on the same batch. There is no
dropout, on either side: the loss check needs both to compute the same function.

peft4j writes a folder with
  config.json          model sizes, method and its config (AdapterHub/PEFT fields), adapter name,
                       trainable tensor names in optimizer order, AdamW hyper-parameters
  tensors.safetensors  every tensor under peft4j's tree names (base, adapter, "head.classifier.*")
                       and the batch: "batch.input_ids", "batch.attention_mask", "batch.labels"
Tree names are PEFT's and AdapterHub's in-memory names: a LoRA-wrapped linear layer keeps its
weight under ".base_layer", bottleneck adapters sit at "<sublayer>.adapters.<name>", AdapterHub's
flat prefix is "prefix_tuning.prefix_tunings.<name>.self_prefix.control_trans".

One JSON request per line, one JSON reply per line:
  {"op": "hello"}                       -> {"torch", "blas", "openblas_threads", "torch_threads"}
  {"op": "load", "dir"}                 -> {"trainable"}           (number of trainable elements)
  {"op": "train", "steps"}              -> {"seconds": [...], "losses": [...]}  one entry per step
  {"op": "infer", "steps"}              -> {"seconds": [...]}     forward without autograd
  {"op": "logits"}                      -> {"logits": [...]}      the batch's logits, row-major, without autograd
  {"op": "shape", "batch", "seq", "seed"} -> {}                   a new random full-length batch
  {"op": "rss"}                         -> {"vmhwm": bytes}       this process's peak resident memory
  {"op": "quit"}
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from openblas_probe import loaded_openblas, openblas_threads

# ----------------------------------------------------------------------------- environment


def peak_rss():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


# ----------------------------------------------------------------------------- safetensors

NUMPY_TYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "F16": np.float16}


def read_safetensors(path):
    """Every tensor of a safetensors file as a torch tensor (BF16 widened to float32 exactly)."""
    with open(path, "rb") as f:
        data = f.read()
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = data[base + begin:base + end]
        dtype = entry["dtype"]
        if dtype == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        else:
            array = np.frombuffer(raw, dtype=np.dtype(NUMPY_TYPES[dtype]).newbyteorder("<")).copy()
        out[name] = torch.from_numpy(array.reshape(entry["shape"]))
    return out


# ----------------------------------------------------------------------------- the model


class Bottleneck:
    """AdapterHub's sequential bottleneck adapter at one sublayer, with the config's residual and LN flags."""

    def __init__(self, t, prefix, cfg):
        for flag in ("ln_before", "ln_after", "is_parallel", "use_gating", "phm_layer"):
            if cfg.get(flag):
                raise ValueError("the peer does not model bottleneck field " + flag + "=true")
        if not isinstance(cfg["scaling"], (int, float)):
            raise ValueError("the peer models a fixed scaling only, got " + str(cfg["scaling"]))
        self.down_w = t[prefix + "adapter_down.0.weight"]
        self.down_b = t[prefix + "adapter_down.0.bias"]
        self.up_w = t[prefix + "adapter_up.weight"]
        self.up_b = t[prefix + "adapter_up.bias"]
        self.act = {"relu": F.relu, "swish": F.silu, "silu": F.silu, "gelu": F.gelu, "tanh": torch.tanh}[cfg["non_linearity"].lower()]
        self.scaling = float(cfg["scaling"])
        self.ln_before = cfg["original_ln_before"]
        self.ln_after = cfg["original_ln_after"]
        self.residual_mode = str(cfg["residual_before_ln"]).lower()
        self.residual_first = cfg["adapter_residual_before_ln"]

    def __call__(self, h, x, ln):
        """The sublayer's output: h is its projection output, x its input, ln its LayerNorm."""
        residual = h if self.residual_mode == "true" else None
        hidden = h
        if self.ln_before:
            if self.residual_mode == "post_add":
                residual = h + x
                hidden = ln(residual)
            else:
                hidden = ln(h + x)
        if self.residual_mode == "false":
            residual = hidden
        up = F.linear(self.act(F.linear(hidden, self.down_w, self.down_b)), self.up_w, self.up_b)
        if self.scaling != 1.0:
            up = up * self.scaling
        out = up + residual
        return ln(out + x) if self.ln_after else out


class MiniBert:
    """Hugging Face's BertModel forward (eager attention, erf GELU, post-LN) with the exported adapter."""

    def __init__(self, cfg, t):
        self.cfg = cfg
        self.t = t
        self.heads = cfg["heads"]
        self.eps = cfg["norm_eps"]
        self.layers = cfg["layers"]
        name, method, mcfg = cfg["adapter"], cfg["method"], cfg["method_config"]
        self.lora_scaling = None
        if "lora_alpha" in mcfg:
            if mcfg.get("use_rslora") or mcfg.get("use_dora") or mcfg.get("lora_dropout", 0) != 0:
                raise ValueError("the peer models plain LoRA without dropout")
            self.lora_scaling = mcfg["lora_alpha"] / mcfg["r"]
        self.sites = {}
        for layer in range(self.layers):
            for where in ("attention.output", "output"):
                prefix = "encoder.layer.%d.%s.adapters.%s." % (layer, where, name)
                if prefix + "adapter_up.weight" in t:
                    self.sites[(layer, where)] = Bottleneck(t, prefix, mcfg)
        self.prefix = t.get("prefix_tuning.prefix_tunings.%s.self_prefix.control_trans" % name)
        if self.prefix is not None:
            self.prefix_length = mcfg["prefix_length"]
        self.method = method
        if cfg["hidden_act"] != "gelu":
            raise ValueError("the peer models the erf GELU only, the model uses " + cfg["hidden_act"])

    def w(self, path):
        """A linear layer's weight, wherever LoRA moved it."""
        return self.t[path + ".weight"] if path + ".weight" in self.t else self.t[path + ".base_layer.weight"]

    def b(self, path):
        return self.t[path + ".bias"] if path + ".bias" in self.t else self.t[path + ".base_layer.bias"]

    def linear(self, x, path):
        y = F.linear(x, self.w(path), self.b(path))
        a = self.t.get(path + ".lora_A." + self.cfg["adapter"] + ".weight")
        if a is not None:
            bmat = self.t[path + ".lora_B." + self.cfg["adapter"] + ".weight"]
            y = y + F.linear(F.linear(x, a), bmat) * self.lora_scaling
        return y

    def layer_norm(self, path):
        weight, bias = self.t[path + ".weight"], self.t[path + ".bias"]
        return lambda v: F.layer_norm(v, (v.shape[-1],), weight, bias, self.eps)

    def sublayer_out(self, layer, where, inner, x):
        p = "encoder.layer.%d.%s" % (layer, where)
        h = self.linear(inner, p + ".dense")
        ln = self.layer_norm(p + ".LayerNorm")
        site = self.sites.get((layer, where))
        return site(h, x, ln) if site is not None else ln(h + x)

    def prefixes(self, batch):
        """Per layer (keys, values) [B, heads, P, d] from AdapterHub's flat control_trans."""
        hidden = self.cfg["hidden"]
        d = hidden // self.heads
        kv = self.prefix.view(self.prefix_length, self.layers * 2, self.heads, d).permute(1, 2, 0, 3)
        return [(kv[2 * l].unsqueeze(0).expand(batch, -1, -1, -1), kv[2 * l + 1].unsqueeze(0).expand(batch, -1, -1, -1))
                for l in range(self.layers)]

    def forward(self, ids, mask):
        t = self.t
        bsz, seq = ids.shape
        positions = torch.arange(seq)
        x = t["embeddings.word_embeddings.weight"][ids] + t["embeddings.position_embeddings.weight"][positions] \
            + t["embeddings.token_type_embeddings.weight"][0]
        x = self.layer_norm("embeddings.LayerNorm")(x)
        key_mask = mask
        prefixes = None
        if self.prefix is not None:
            prefixes = self.prefixes(bsz)
            key_mask = torch.cat([torch.ones(bsz, self.prefix_length, dtype=mask.dtype), mask], dim=1)
        additive = (1.0 - key_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        heads, d = self.heads, x.shape[-1] // self.heads
        for layer in range(self.layers):
            p = "encoder.layer.%d.attention.self." % layer
            q = self.linear(x, p + "query").view(bsz, seq, heads, d).transpose(1, 2)
            k = self.linear(x, p + "key").view(bsz, seq, heads, d).transpose(1, 2)
            v = self.linear(x, p + "value").view(bsz, seq, heads, d).transpose(1, 2)
            if prefixes is not None:
                k = torch.cat([prefixes[layer][0], k], dim=2)
                v = torch.cat([prefixes[layer][1], v], dim=2)
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + additive
            ctx = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(bsz, seq, heads * d)
            a = self.sublayer_out(layer, "attention.output", ctx, x)
            inner = F.gelu(self.linear(a, "encoder.layer.%d.intermediate.dense" % layer))
            x = self.sublayer_out(layer, "output", inner, a)
        return x

    def logits(self, ids, mask):
        hidden = self.forward(ids, mask)
        m = mask.to(hidden.dtype).unsqueeze(-1)
        pooled = (hidden * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
        return F.linear(pooled, self.t["head.classifier.weight"], self.t["head.classifier.bias"])


# ----------------------------------------------------------------------------- the workload


class Workload:
    def __init__(self, folder):
        with open(os.path.join(folder, "config.json")) as f:
            self.cfg = json.load(f)
        tensors = read_safetensors(os.path.join(folder, "tensors.safetensors"))
        self.ids = tensors.pop("batch.input_ids")
        self.mask = tensors.pop("batch.attention_mask")
        self.labels = tensors.pop("batch.labels")
        trainable = self.cfg["trainable"]
        missing = [n for n in trainable if n not in tensors]
        if missing:
            raise ValueError("trainable tensors missing from the export: " + ", ".join(missing[:5]))
        params = []
        for n in trainable:
            tensors[n].requires_grad_(True)
            params.append(tensors[n])
        self.model = MiniBert(self.cfg, tensors)
        self.params = params
        opt = self.cfg["optimizer"]
        self.optimizer = torch.optim.AdamW(params, lr=opt["lr"], betas=tuple(opt["betas"]), eps=opt["eps"],
                                           weight_decay=opt["weight_decay"])

    def train_step(self):
        loss = F.cross_entropy(self.model.logits(self.ids, self.mask), self.labels)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.item()

    def infer(self):
        with torch.inference_mode():
            return self.model.logits(self.ids, self.mask)

    def reshape(self, batch, seq, seed):
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1000, self.cfg["vocab"], (batch, seq), generator=g)
        self.mask = torch.ones(batch, seq, dtype=torch.int64)
        self.labels = torch.randint(0, 2, (batch,), generator=g)


def timed(call, steps):
    seconds, values = [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        values.append(call())
        seconds.append(time.perf_counter() - t0)
    return seconds, values


def main():
    torch.set_num_threads(int(sys.argv[1]))
    work = None
    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        try:
            if op == "hello":
                lib = loaded_openblas()
                reply = {"torch": torch.__version__, "blas": lib or "unknown", "openblas_threads": openblas_threads(lib),
                         "torch_threads": torch.get_num_threads()}
            elif op == "load":
                work = Workload(req["dir"])
                reply = {"trainable": sum(p.numel() for p in work.params)}
            elif op == "train":
                seconds, losses = timed(work.train_step, req["steps"])
                reply = {"seconds": seconds, "losses": losses}
            elif op == "infer":
                seconds, _ = timed(work.infer, req["steps"])
                reply = {"seconds": seconds}
            elif op == "logits":
                reply = {"logits": work.infer().flatten().tolist()}
            elif op == "shape":
                work.reshape(req["batch"], req["seq"], req["seed"])
                reply = {}
            elif op == "rss":
                reply = {"vmhwm": peak_rss()}
            elif op == "quit":
                return
            else:
                reply = {"error": "unknown op " + op}
        except Exception as e:  # reported to the driver, which names the peer and the request
            reply = {"error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
