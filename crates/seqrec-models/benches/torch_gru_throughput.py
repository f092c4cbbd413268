"""PyTorch reference for `gru_throughput.rs`: the same work, written
straightforwardly. Training: lanes of user sequences, 20-step windows with the
state carried (detached) and reset when a lane takes a new user at a window
boundary, item/user dropout (keep 0.8/0.5), full-softmax cross-entropy over
the active lane-steps, L2 on the looked-up user rows, global-norm clipping at
5, Adam (eps 1e-8). Evaluation: batches of users run from the start of their
sequences; every catalogue item is scored at each test position and the
target ranked (ties count against it).

    pip install torch numpy
    python3 torch_gru_throughput.py variant=gru hidden=100 threads=2

On a GPU (the GPU check runs this at the paper's setting):

    python3 torch_gru_throughput.py device=cuda variant=attentional-user-gru \
        hidden=1000 lanes=1000 users=69878 items=10677 length=143 \
        windows=5 warmup=1 eval_users=200 tf32=0 json=1

`warmup` windows run first, untimed (CUDA context, cuBLAS heuristics);
`tf32=1` lets float32 products use TF32 tensor cores; `bf16=1` runs the
forward pass and the loss under bf16 autocast (bf16 products, fp32 master
weights and optimiser); `cudnn=1` (standard GRU only) replaces the cell by
`torch.nn.GRU`, cuDNN's fused recurrence, whose cell applies the reset
gate after the recurrent product: a different cell from the paper's, so
a figure for context, not a reference; `eval_users` caps the
evaluation to the first users; `json=1` prints one JSON object.
`chunk_rows=N` computes the output layer's cross-entropy N rows at a time
with its backward written by hand, as seqrec does (the LastFM shape, whose
full logits would not fit): the gradient of the states then flows back
through the recurrence as that of the surrogate Σ h ⊙ ∂L/∂h.
"""
import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

WINDOW = 20


def arg(name, default):
    for a in sys.argv[1:]:
        if a.startswith(name + "="):
            return type(default)(a.split("=", 1)[1])
    return default


class Cell(nn.Module):
    """Spec 4.1-4.4: the standard GRU and the linear, rectified-linear (hard
    thresholds, omega 0.2) and attentional user-based GRUs; the reset gate
    multiplies h before its transformation."""

    def __init__(self, n, variant):
        super().__init__()
        self.n, self.variant = n, variant
        self.user = variant != "gru"
        self.gates = nn.Linear((3 if self.user else 2) * n, 2 * n)
        self.cand_h, self.cand_i = nn.Linear(n, n), nn.Linear(n, n)
        if self.user:
            self.cand_v = nn.Linear(n, n)
        if variant == "rectified-user-gru":
            self.thresholds = nn.Linear(3 * n, 2 * n)
        if variant == "attentional-user-gru":
            self.att_h, self.att_i, self.att_v = nn.Linear(n, n), nn.Linear(n, n), nn.Linear(n, n)
        for name, p in self.named_parameters():
            r = 0.01 if name.startswith("att_") else 0.1
            nn.init.uniform_(p, -r, r)
        if variant == "rectified-user-gru":
            # Hard comparisons: the thresholds receive no gradient (spec 4.3).
            self.thresholds.requires_grad_(False)

    def forward(self, h, e_i, e_v):
        x, v = e_i, e_v
        if self.variant == "rectified-user-gru":
            kappa = self.thresholds(torch.cat([h, e_i, e_v], 1))
            k1, k2 = kappa[:, : self.n], kappa[:, self.n :]
            v = e_v * (e_v >= k1).float() * (0.2 + 0.8 * (e_v >= k2).float())
        elif self.variant == "attentional-user-gru":
            xi = torch.sigmoid(self.att_h(h) + self.att_i(e_i) + self.att_v(e_v))
            x, v = (1 - xi) * e_i, xi * e_v
        g = torch.sigmoid(self.gates(torch.cat([h, x, v] if self.user else [h, x], 1)))
        u, r = g[:, : self.n], g[:, self.n :]
        pre = self.cand_h(r * h) + self.cand_i(x)
        if self.user:
            pre = pre + self.cand_v(v)
        return (1 - u) * h + u * torch.tanh(pre)


def windows_of(train, lanes):
    """The lane schedule of spec 4.5 (switch at window boundaries)."""
    order = list(range(len(train)))
    nxt = min(lanes, len(order))
    lane_user = order[:nxt] + [None] * (lanes - nxt)
    pos = [0] * lanes
    fresh = [True] * lanes
    while any(u is not None for u in lane_user):
        inp = np.zeros((WINDOW, lanes), np.int64)
        tgt = np.zeros((WINDOW, lanes), np.int64)
        usr = np.zeros((WINDOW, lanes), np.int64)
        act = np.zeros((WINDOW, lanes), bool)
        reset = np.array(fresh, dtype=np.float32)
        fresh = [False] * lanes
        for lane in range(lanes):
            u = lane_user[lane]
            if u is None:
                continue
            seq = train[u]
            for s in range(WINDOW):
                if pos[lane] + 1 >= len(seq):
                    break
                inp[s, lane], tgt[s, lane] = seq[pos[lane]], seq[pos[lane] + 1]
                usr[s, lane], act[s, lane] = u, True
                pos[lane] += 1
            if pos[lane] + 1 >= len(seq):
                lane_user[lane] = order[nxt] if nxt < len(order) else None
                nxt += 1
                pos[lane], fresh[lane] = 0, True
        yield inp, tgt, usr, act, reset


def chunked_cross_entropy(states, targets, out, chunk):
    """Mean cross-entropy of `out(states)` in row chunks with a hand-written
    backward: returns a surrogate whose gradient with respect to `states` is
    the loss's (its value is the loss) and the output layer's gradients."""
    rows = states.shape[0]
    h = states.detach()
    weight, bias = out.weight, out.bias
    d_weight, d_bias = torch.zeros_like(weight), torch.zeros_like(bias)
    d_states = torch.empty_like(h)
    loss_sum = torch.zeros((), device=h.device)
    with torch.no_grad():
        for start in range(0, rows, chunk):
            hc, tc = h[start:start + chunk], targets[start:start + chunk]
            logits = torch.addmm(bias, hc, weight.t())
            top = logits.max(1, keepdim=True).values
            e = (logits - top).exp_()
            total = e.sum(1, keepdim=True)
            loss_sum += (top + total.log() - logits.gather(1, tc[:, None])).sum()
            g = e.div_(total).mul_(1.0 / rows)
            g[torch.arange(tc.numel(), device=h.device), tc] -= 1.0 / rows
            d_weight.addmm_(g.t(), hc)
            d_bias += g.sum(0)
            d_states[start:start + chunk] = g @ weight
    loss = loss_sum / rows
    surrogate = (states * d_states).sum() - (states * d_states).sum().detach() + loss
    return surrogate, (d_weight, d_bias)


def main():
    variant = arg("variant", "gru")
    hidden, lanes = arg("hidden", 100), arg("lanes", 100)
    users, items, length = arg("users", 610), arg("items", 8917), arg("length", 164)
    max_windows = arg("windows", 20)
    warmup = arg("warmup", 0)
    device = torch.device(arg("device", "cpu"))
    tf32 = bool(arg("tf32", 0))
    bf16 = bool(arg("bf16", 0))
    cudnn = bool(arg("cudnn", 0))
    if cudnn and variant != "gru":
        sys.exit("cudnn=1 is the standard GRU only (torch.nn.GRU has no user input)")
    eval_users = arg("eval_users", users)
    chunk_rows = arg("chunk_rows", 0)
    torch.set_num_threads(arg("threads", 2))
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    seqs = rng.integers(0, items, size=(users, length))
    n_train = int(0.9 * length)
    rest = length - n_train
    test_start = n_train + rest // 2
    train = [s[:n_train] for s in seqs]
    if variant not in ("gru", "linear-user-gru", "rectified-user-gru", "attentional-user-gru"):
        sys.exit(f"unknown variant {variant}")
    with_user = variant != "gru"

    item_emb = nn.Parameter(torch.empty(items, hidden, device=device).uniform_(-0.1, 0.1))
    user_emb = nn.Parameter(torch.empty(users, hidden, device=device).uniform_(-0.1, 0.1))
    cell = Cell(hidden, variant).to(device)
    if cudnn:
        cell = nn.GRU(hidden, hidden).to(device)
        for p in cell.parameters():
            nn.init.uniform_(p, -0.1, 0.1)
    out = nn.Linear(hidden, items).to(device)
    nn.init.uniform_(out.weight, -0.1, 0.1)
    nn.init.uniform_(out.bias, -0.1, 0.1)
    trained = [p for p in cell.parameters() if p.requires_grad]
    params = [item_emb, *trained, *out.parameters()] + ([user_emb] if with_user else [])
    opt = torch.optim.Adam(params, lr=1e-3, eps=1e-8)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    h = torch.zeros(lanes, hidden, device=device)
    tuples, start = 0, time.perf_counter()
    for w, (inp, tgt, usr, act, reset) in enumerate(windows_of(train, lanes)):
        if w == warmup + max_windows:
            break
        if w == warmup:
            sync()
            tuples, start = 0, time.perf_counter()
        inp, tgt, usr = (torch.from_numpy(a).to(device) for a in (inp, tgt, usr))
        act = torch.from_numpy(act).to(device)
        h = h * (1 - torch.from_numpy(reset).to(device)).unsqueeze(1)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            e_i = F.dropout(item_emb[inp], p=0.2, training=True)
            e_v = F.dropout(user_emb[usr], p=0.5, training=True) if with_user else None
            if cudnn:
                outputs, h = cell(e_i, h.unsqueeze(0))
                h = h[0].detach()
                flat = outputs.reshape(-1, hidden)
            else:
                states = []
                for s in range(WINDOW):
                    h = cell(h, e_i[s], e_v[s] if with_user else None)
                    states.append(h)
                h = h.detach()
                flat = torch.cat(states, 0)
            mask = act.reshape(-1)
            if chunk_rows > 0:
                loss, out_grads = chunked_cross_entropy(flat[mask], tgt.reshape(-1)[mask], out, chunk_rows)
            else:
                loss, out_grads = F.cross_entropy(out(flat[mask]), tgt.reshape(-1)[mask]), None
        h = h.float()
        if with_user:
            lane_users = torch.unique(usr[act])
            loss = loss + 0.01 * 0.5 * (user_emb[lane_users] ** 2).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        if out_grads is not None:
            out.weight.grad, out.bias.grad = out_grads
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        loss.item()
        tuples += int(mask.sum())
    sync()
    train_tps = tuples / (time.perf_counter() - start)
    if not arg("eval", 1):
        print(f"torch-{device.type} {variant} hidden={hidden} lanes={lanes} items={items} windows={max_windows} "
              f"threads={torch.get_num_threads()}: train {train_tps:.0f} tuples/s")
        return

    # Evaluation: about 1024 test events per batch, users kept whole.
    per_user = length - test_start
    batch_users = max(1, 1024 // per_user)
    events, start = 0, time.perf_counter()
    with torch.no_grad():
        for b in range(0, min(users, eval_users), batch_users):
            batch = torch.from_numpy(seqs[b : min(b + batch_users, eval_users)]).to(device)
            lanes_b = batch.shape[0]
            e_v = user_emb[torch.arange(b, b + lanes_b, device=device)] if with_user else None
            h = torch.zeros(lanes_b, hidden, device=device)
            wanted = []
            if cudnn:
                outputs, _ = cell(item_emb[batch[:, : length - 1]].transpose(0, 1).contiguous(), h.unsqueeze(0))
                for t in range(test_start - 1, length - 1):
                    wanted.append((outputs[t], batch[:, t + 1]))
            for t in range(0 if not cudnn else length - 1, length - 1):
                h = cell(h, item_emb[batch[:, t]], e_v)
                if t + 1 >= test_start:
                    wanted.append((h, batch[:, t + 1]))
            states = torch.cat([s for s, _ in wanted], 0)
            targets = torch.cat([t for _, t in wanted], 0)
            scores = out(states)
            target_scores = scores.gather(1, targets.unsqueeze(1))
            ranks = 1 + (scores >= target_scores).sum(1) - 1  # ties count against the target
            ranks.sum().item()
            events += ranks.numel()
    sync()
    eval_eps = events / (time.perf_counter() - start)
    if arg("json", 0):
        print(json.dumps({
            "implementation": "pytorch-cudnn" if cudnn else "pytorch",
            "torch": torch.__version__, "device": str(device),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "precision": ("bf16" if bf16 else "tf32" if tf32 else "fp32") if device.type == "cuda" else "fp32",
            "method": variant, "hidden": hidden, "lanes": lanes, "items": items, "users": users,
            "chunk_rows": chunk_rows or None,
            "warmup_windows": warmup, "timed_windows": max_windows,
            "train_tuples_per_second": train_tps, "eval_events": events,
            "eval_events_per_second": eval_eps,
            "peak_memory_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
        }))
        return
    print(f"torch-{device.type} {variant} hidden={hidden} lanes={lanes} items={items} windows={max_windows} "
          f"threads={torch.get_num_threads()}: train {train_tps:.0f} tuples/s, eval {eval_eps:.0f} events/s ({events} events)")


if __name__ == "__main__":
    main()
