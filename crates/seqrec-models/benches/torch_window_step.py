"""PyTorch reference for the former `examples/window_step.rs` (commit 91a7826): the same training window
(B lanes x 20 steps of the attentional user-based GRU of spec 4.4, full
softmax cross-entropy, backward, Adam) written straightforwardly, to compare
throughput on the same machine.

    python3 torch_window_step.py device=cpu hidden=100 lanes=100 items=9000 windows=5
    python3 torch_window_step.py device=cuda hidden=1000 lanes=1000 items=10677 users=69878
"""
import time

import torch
import torch.nn as nn

from torch_gru_throughput import Cell, arg  # one definition of each

STEPS = 20


def main():
    device = arg("device", "cpu")
    hidden, lanes = arg("hidden", 100), arg("lanes", 100)
    items, users, windows = arg("items", 9000), arg("users", 600), arg("windows", 5)
    user = arg("integration", "attentional") != "none"
    torch.manual_seed(1)
    item_emb = nn.Parameter(torch.empty(items, hidden, device=device).uniform_(-0.1, 0.1))
    user_emb = nn.Parameter(torch.empty(users, hidden, device=device).uniform_(-0.1, 0.1))
    cell = Cell(hidden, user).to(device)
    out = nn.Linear(hidden, items).to(device)
    nn.init.uniform_(out.weight, -0.1, 0.1)
    nn.init.uniform_(out.bias, -0.1, 0.1)
    params = [item_emb, user_emb, *cell.parameters(), *out.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3, eps=1e-8)
    timings = []
    for window in range(windows + 1):
        seq = torch.randint(0, items, (STEPS + 1, lanes), device=device)
        lane_users = torch.randint(0, users, (lanes,), device=device)
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        e_v = user_emb[lane_users]
        h = torch.zeros(lanes, hidden, device=device)
        states = []
        for t in range(STEPS):
            h = cell(h, item_emb[seq[t]], e_v)
            states.append(h)
        logits = out(torch.cat(states, 0))
        loss = nn.functional.cross_entropy(logits, seq[1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = loss.item()
        seconds = time.perf_counter() - start
        if window > 0:
            timings.append(seconds)
        print(f"window {window}: loss {value:.4f}, {seconds:.3f} s")
    mean = sum(timings) / len(timings)
    print(f"torch-{device} hidden={hidden} lanes={lanes} items={items} threads={torch.get_num_threads()}: "
          f"{mean:.3f} s/window, {lanes * STEPS / mean:.0f} tuples/s")


if __name__ == "__main__":
    main()
