import torch

from gandiag.train.gan_step import _adam_state


def test_functional_adam_step_matches_torch_adam():
    # The unrolled GAN replays the critic's optimiser functionally; one replayed step must
    # equal torch.optim.Adam's own step from the same state.
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.5, 0.9))
    x = torch.randn(8, 4)
    for _ in range(3):  # build up some moment state
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
    update = _adam_state(opt, net)
    params = {n: p.detach().clone().requires_grad_(True) for n, p in net.named_parameters()}
    loss = torch.func.functional_call(net, params, (x,)).pow(2).mean()
    grads = torch.autograd.grad(loss, list(params.values()))
    replayed = update.apply(params, grads)
    opt.zero_grad()
    net(x).pow(2).mean().backward()
    opt.step()
    for name, p in net.named_parameters():
        torch.testing.assert_close(replayed[name], p.detach(), rtol=1e-5, atol=1e-7)


def test_unrolled_step_is_differentiable_through_the_lookahead():
    net = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    update = _adam_state(opt, net)
    w = torch.ones(1, 2, requires_grad=True)  # stands in for G's output
    params = {n: p.detach().requires_grad_(True) for n, p in net.named_parameters()}
    loss = torch.func.functional_call(net, params, (w,)).sum() ** 2
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
    new = update.apply(params, grads)
    out = torch.func.functional_call(net, new, (w,)).sum()
    (g,) = torch.autograd.grad(out, w)
    # d/dw of D_{theta - lr * grad(theta; w)}(w) differs from the frozen-D gradient theta
    assert not torch.allclose(g, params["weight"].detach())
