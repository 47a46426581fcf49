"""Implicit matrix factorisation trained with sampled softmax, in PyTorch.

score(u, i) = <p_u, q_i> + b_i. Each observed (customer, item) pair is a positive; the loss is the
cross-entropy of the positive against `negatives` items drawn uniformly (sampled softmax, as in
Covington et al., "Deep Neural Networks for YouTube Recommendations", 2016), weighted by
log1p(interaction weight) so a purchase counts more than a glance without letting a heavy
customer dominate. The item bias absorbs popularity, the factors the taste.

Same code on CPU and GPU: the training order and negatives are drawn on the CPU from the seed and
moved to the device, and PyTorch's deterministic algorithms are switched on, so a seed gives the
same model on a given device.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

log = logging.getLogger("pipeline.train")


@dataclass(frozen=True)
class Params:
    factors: int = 48
    epochs: int = 20
    negatives: int = 64
    batch_size: int = 2048
    learning_rate: float = 0.01
    l2: float = 1e-5
    seed: int = 7

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Factors:
    users: np.ndarray  # float32 [customers, factors]
    items: np.ndarray  # float32 [items, factors]
    item_bias: np.ndarray  # float32 [items]

    def scores(self, user_index: np.ndarray) -> np.ndarray:
        """float32 [len(user_index), items]."""
        return self.users[user_index] @ self.items.T + self.item_bias[None, :]


def pick_device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        from .errors import BadInput
        raise BadInput("--device cuda: no CUDA device is visible (allowed: auto, cpu, cuda)")
    return requested


def l2_penalty(pu, qc, Q, candidates):
    """`pu.pow(2).sum() + qc.pow(2).sum()`, value and gradients: the squared norm of every factor
    row a batch gathers, once per gathering.

    pu: float [B, factors], the batch's customer rows (P[users]); qc: float [B, 1 + negatives,
    factors], its candidates' rows (Q[candidates]), the tensors the logits use, so no row is
    gathered twice; Q: float [items, factors]; candidates: int64 [B, 1 + negatives]. Returns a
    0-d tensor.

    When the catalogue has no more rows than the batch gathers (Q.shape[0] <= candidates.numel(),
    133,120 at the defaults), the items' term is computed over Q itself, each row weighted by how
    often the batch gathers it (torch.bincount), instead of over the gathered copy: squaring that
    [B, 1 + negatives, factors] copy and sending its gradient back was the largest piece of a CPU
    step. Measured per step, one thread (2026-12-01; loss + backward, 2048 x 65 candidates, 48
    factors; the old form gathered Q[candidates] a second time): 104 items 89.2 ms before -> 54.9
    with the shared gather -> 37.8 weighted; 25,000 items 112.8 -> 86.5 -> 57.1; 100,000 items
    143.7 -> 103.0 -> 85.2; past the gathered rows (500,000 items) the weighted form lost (448 ms
    against 264), hence the rule. The customers' term is always the gathered one: a batch gathers
    B rows of millions."""
    import torch

    users_term = pu.pow(2).sum()
    if Q.shape[0] > candidates.numel():
        return users_term + qc.pow(2).sum()
    # Unweighted: PyTorch lists only bincount *with weights* on CUDA as nondeterministic, so
    # fit()'s use_deterministic_algorithms(True) holds on the GPU too (not run on one here).
    counts = torch.bincount(candidates.flatten(), minlength=Q.shape[0]).to(Q.dtype)
    return users_term + (counts * Q.pow(2).sum(1)).sum()


def fit(user: np.ndarray, item: np.ndarray, weight: np.ndarray, n_users: int, n_items: int,
        params: Params, device: str = "cpu") -> tuple[Factors, list[float]]:
    """Train on pairs (user index, item index, weight > 0); returns the factors and the mean loss per epoch."""
    # cuBLAS needs a fixed workspace for deterministic GEMMs; set before CUDA initialises.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch

    torch.use_deterministic_algorithms(True)
    torch.manual_seed(params.seed)
    cpu = torch.Generator().manual_seed(params.seed)
    dev = torch.device(device)
    scale = 0.1 / np.sqrt(params.factors)
    P = torch.nn.Parameter((torch.randn(n_users, params.factors, generator=cpu) * scale).to(dev))
    Q = torch.nn.Parameter((torch.randn(n_items, params.factors, generator=cpu) * scale).to(dev))
    b = torch.nn.Parameter(torch.zeros(n_items, device=dev))
    optimiser = torch.optim.Adam([P, Q, b], lr=params.learning_rate)
    users_t = torch.as_tensor(user, dtype=torch.int64)
    items_t = torch.as_tensor(item, dtype=torch.int64)
    w = np.log1p(weight.astype(np.float64))
    weights_t = torch.as_tensor(w / w.mean(), dtype=torch.float32)
    n = len(user)
    losses = []
    for epoch in range(params.epochs):
        started = time.perf_counter()
        order = torch.randperm(n, generator=cpu)
        total = 0.0
        for lo in range(0, n, params.batch_size):
            idx = order[lo:lo + params.batch_size]
            u = users_t[idx].to(dev)
            pos = items_t[idx].to(dev)
            neg = torch.randint(0, n_items, (len(idx), params.negatives), generator=cpu).to(dev)
            candidates = torch.cat([pos[:, None], neg], dim=1)  # [B, 1 + negatives], positive first
            pu, qc = P[u], Q[candidates]
            logits = torch.einsum("bf,bnf->bn", pu, qc) + b[candidates]
            # A sampled negative equal to the positive is not a negative.
            logits = logits.masked_fill(torch.cat([torch.zeros_like(pos[:, None], dtype=torch.bool),
                                                   neg == pos[:, None]], dim=1), -1e9)
            nll = torch.nn.functional.cross_entropy(logits, torch.zeros(len(idx), dtype=torch.int64, device=dev),
                                                    reduction="none")
            loss = (nll * weights_t[idx].to(dev)).mean() + params.l2 * l2_penalty(pu, qc, Q, candidates) / len(idx)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / n)
        log.info("epoch %d/%d loss %.4f (%.1fs, %s)", epoch + 1, params.epochs, losses[-1], time.perf_counter() - started, device)
    factors = Factors(users=P.detach().cpu().numpy().astype(np.float32), items=Q.detach().cpu().numpy().astype(np.float32),
                      item_bias=b.detach().cpu().numpy().astype(np.float32))
    return factors, losses
