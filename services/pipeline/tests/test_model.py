"""The trainer's loss pieces against their definitions."""
from __future__ import annotations

import pytest
import torch

from pipeline.model import l2_penalty


# Both of l2_penalty's forms: a catalogue smaller than the rows a batch gathers (the items' term
# weighted by gather counts) and one larger (the gathered rows squared).
@pytest.mark.parametrize("items, batch, candidates_per_row", [(12, 64, 9), (500, 8, 3)], ids=["counts", "gathered"])
def test_l2_penalty_equals_the_gathered_rows_squared_value_and_gradients(items, batch, candidates_per_row):
    # Repeated rows on purpose (a batch draws the same customer and item many times), and rows
    # no batch gathers (their gradient must stay zero), as in a real batch.
    generator = torch.Generator().manual_seed(11)
    customers, factors = 40, 6
    users = torch.randint(0, customers - 5, (batch,), generator=generator)
    candidates = torch.randint(0, items - 2, (batch, candidates_per_row), generator=generator)
    P0 = torch.randn(customers, factors, generator=generator, dtype=torch.float64)
    Q0 = torch.randn(items, factors, generator=generator, dtype=torch.float64)

    P, Q = P0.clone().requires_grad_(), Q0.clone().requires_grad_()
    got = l2_penalty(P[users], Q[candidates], Q, candidates)
    got.backward()
    Pd, Qd = P0.clone().requires_grad_(), Q0.clone().requires_grad_()
    want = Pd[users].pow(2).sum() + Qd[candidates].pow(2).sum()
    want.backward()

    assert got.shape == ()
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(P.grad, Pd.grad)
    torch.testing.assert_close(Q.grad, Qd.grad)
    assert P.grad[customers - 5:].abs().sum() == 0 and Q.grad[items - 2:].abs().sum() == 0
    assert Q.grad.abs().sum() > 0
