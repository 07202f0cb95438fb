"""The image filters compute in place without autograd (inference): same values as with autograd, the
caller's input untouched, and training (autograd on) still gets gradients."""
from __future__ import annotations

import torch

from backend.networks.hourglass import HGFilter
from backend.networks.normal_net import NormalNet


def small_nets():
    torch.manual_seed(0)
    return [HGFilter(2, 2, 3, 8, "group", "ave_pool").eval(), HGFilter(1, 2, 3, 4, "batch", "no_down").eval(),
            NormalNet(base=8, downsamplings=2, blocks=2).eval()]


def test_inference_equals_autograd_and_keeps_the_input():
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    for net in small_nets():
        with torch.enable_grad():
            expected = net(x.clone())
        kept = x.clone()
        with torch.no_grad():
            got = net(x)
        torch.testing.assert_close(got, expected.detach(), rtol=0, atol=0)
        assert torch.equal(x, kept)


def test_training_still_gets_gradients():
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    for net in small_nets():
        net.train()
        net.zero_grad()
        net(x).square().mean().backward()   # an in-place op on a saved tensor would raise here
        # Every parameter gets a finite gradient but the norms of skip paths without a 1x1 conv (``bn4``,
        # unused there, as in the official network).
        grads = {n: p.grad for n, p in net.named_parameters() if ".bn4." not in n and not n.startswith("bn4")}
        assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
        assert sum(float(g.abs().sum()) for g in grads.values()) > 0
        assert x.grad is not None and float(x.grad.abs().sum()) > 0
