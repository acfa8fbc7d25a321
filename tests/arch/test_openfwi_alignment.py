"""Our VelocityGenerator against OpenFWI's InversionNet layout re-implemented in PyTorch
(ppsci_ext/testing/openfwi_nets.py), with the weights converted by ppsci_ext.arch.openfwi_weights:
forward outputs and parameter gradients agree, in evaluation and in training mode (BatchNorm on the batch).

In float32 training mode the outputs differ by rounding that BatchNorm amplifies where it normalises over the
batch alone (the 1 x 1 latent of 3 samples): 9e-5 at most; in float64 outputs and gradients agree to 2e-10, so
the layouts are the same. float32 gradients are each compared with the exact gradient of the function they
evaluate (test_float32_gradients_differ_from_pytorchs_by_rounding_alone)."""
import copy

import numpy as np
import paddle
import pytest

from ppsci_ext.arch import VelocityGenerator
from ppsci_ext.arch.openfwi_weights import openfwi_generator_state
from ppsci_ext.testing.examples import compose_config
from ppsci_ext.testing.examples import load_example
from tests.conftest import require

torch = require("torch")  # CPU torch, a test-only reference
from ppsci_ext.testing.openfwi_nets import inversion_net  # noqa: E402

DIMS = (4, 8, 8, 16, 16)


def pair(seed=0, dtype="float32"):
    torch.manual_seed(seed)
    theirs = inversion_net(DIMS).to(getattr(torch, dtype))
    with torch.no_grad():  # non-trivial BatchNorm statistics and affine parameters
        for m in theirs.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1), m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5), m.bias.uniform_(-0.1, 0.1)
    paddle.set_default_dtype(dtype)
    try:
        ours = VelocityGenerator(("data",), ("velocity",), dims=DIMS, upsample="deconv", head_norm=True)
    finally:
        paddle.set_default_dtype("float32")
    state = openfwi_generator_state(theirs.state_dict(), ours)
    assert set(state) == set(ours.state_dict())
    ours.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    return theirs, ours


def data(n=3, dtype="float32"):
    return np.random.default_rng(1).standard_normal((n, 5, 1000, 70)).astype(dtype)


@pytest.mark.parametrize("train, dtype, tol", [(False, "float32", 1e-5), (True, "float64", 1e-8),
                                               (True, "float32", 2e-4)])
def test_forward_agrees(train, dtype, tol):
    theirs, ours = pair(dtype=dtype)
    theirs.train(train), ours.train() if train else ours.eval()
    x = data(dtype=dtype)
    with torch.no_grad():
        want = theirs(torch.from_numpy(x)).numpy()
    got = ours({"data": paddle.to_tensor(x)})["velocity"].numpy()
    assert got.dtype == want.dtype == np.dtype(dtype)
    assert np.abs(got - want).max() <= tol


def test_parameter_gradients_agree():
    """float64, training mode: every parameter gradient agrees to 1e-8 relative (8.2e-11 measured); the biases of
    convolutions ahead of BatchNorm, zero in exact arithmetic, are rounding in both. float32 gradients are
    compared with the exact ones in the next test: compared with each other they also differ where rounding
    puts a pre-activation on the other side of a LeakyReLU kink in one framework, which depends on the BLAS."""
    theirs, ours = pair(dtype="float64")
    theirs.train(), ours.train()
    x = data(dtype="float64")
    y = np.random.default_rng(2).uniform(-1, 1, (3, 1, 70, 70))
    grads, mapped = gradients(theirs, ours, x, y)
    assert len(grads) == len(list(theirs.parameters()))
    total = np.sqrt(sum(np.square(mapped[n]).sum() for n in grads))
    tiny = [n for n in grads if np.linalg.norm(mapped[n]) < 1e-6 * total]
    assert tiny and all(n.endswith(".0.bias") and np.linalg.norm(grads[n]) < 1e-6 * total for n in tiny)
    worst = max(np.linalg.norm(g - mapped[n]) / np.linalg.norm(mapped[n]) for n, g in grads.items() if n not in tiny)
    print(f"worst relative gradient difference, float64: {worst:.2e}")
    assert worst <= 1e-8


def gradients(theirs, ours, x, y):
    """Both networks' parameter gradients of one MSE loss, theirs placed under our names."""
    (theirs(torch.from_numpy(x)) - torch.from_numpy(y)).square().mean().backward()
    (ours({"data": paddle.to_tensor(x)})["velocity"] - paddle.to_tensor(y)).square().mean().backward()
    return {n: p.grad.numpy() for n, p in ours.named_parameters() if not p.stop_gradient}, named_grads(theirs, ours)


def named_grads(theirs, ours):
    """PyTorch's parameter gradients under our names (running statistics have none: their values stand in)."""
    return openfwi_generator_state({**{k: v for k, v in theirs.state_dict().items() if "running" in k},
                                    **{k: p.grad for k, p in theirs.named_parameters()}}, ours)


def leaky_relu_inputs(net, x):
    """The input of every LeakyReLU of one forward pass, in network order (float32 arrays)."""
    seen = []
    if isinstance(net, torch.nn.Module):
        hooks = [m.register_forward_hook(lambda m, i, o: seen.append(i[0].detach().numpy().copy()))
                 for m in net.modules() if isinstance(m, torch.nn.LeakyReLU)]
        net(torch.from_numpy(x))
    else:
        hooks = [m.register_forward_pre_hook(lambda m, i: seen.append(i[0].numpy().copy()))
                 for m in net.sublayers() if isinstance(m, paddle.nn.LeakyReLU)]
        net({"data": paddle.to_tensor(x)})
    for h in hooks:
        h.remove()
    return seen


class PinnedLeakyReLU(torch.nn.Module):
    """LeakyReLU(0.2) on a given linear piece: slope 1 where ``positive``, 0.2 elsewhere."""

    def __init__(self, positive):
        super().__init__()
        self.slope = torch.from_numpy(np.where(positive, 1.0, 0.2))

    def forward(self, x):
        return x * self.slope


def exact_on_the_same_pieces(theirs64, ours, pre, x, y):
    """float64 gradient of the piecewise-linear network restricted to the pieces that ``pre`` (the LeakyReLU
    inputs of a float32 pass) selects, under our names."""
    net = copy.deepcopy(theirs64)
    acts = [(parent, name) for parent in net.modules() for name, m in parent.named_children()
            if isinstance(m, torch.nn.LeakyReLU)]
    assert len(acts) == len(pre)
    for (parent, name), p in zip(acts, pre):
        setattr(parent, name, PinnedLeakyReLU(p > 0))
    net.train()
    (net(torch.from_numpy(x)) - torch.from_numpy(y)).square().mean().backward()
    return named_grads(net, ours)


@pytest.mark.parametrize("batch", [3, 8])
def test_float32_gradients_differ_from_pytorchs_by_rounding_alone(batch):
    """Each framework's float32 parameter gradients equal the exact gradient up to float32 rounding: within
    3e-3 of it, relative to each tensor's own gradient norm, for ours and for PyTorch's alike. Measured on
    OpenBLAS / AMD EPYC: 2.7e-4 and 3.0e-4 at batch 3, where the exact gradient itself moves by up to 2.7e-4
    when data and weights move by float32 rounding (2^-24 relative); 1.2e-5 and 1.4e-5 at batch 8. So 3e-3
    leaves 10x for other CPUs and BLAS, while a 1% error in any one tensor fails, and a layout difference
    (O(1)) fails by far; the two frameworks then differ by rounding alone.

    "Exact" is the float64 gradient of the function the float32 pass evaluates: the float32 weights and data,
    and every LeakyReLU on the linear piece that pass took. The piece matters: the gradient jumps where a
    pre-activation crosses LeakyReLU's kink, and rounding moves the few of the 2-6 million pre-activations
    that lie within ~1e-7 of their layer's spread from zero across it (1-3 here, each framework its own,
    as they depend on the order of the sums). One crossing changes every gradient upstream of it at once: a
    plain float64 reference is 2.9e-2 (batch 3) and 1.3e-2 (batch 8) away from both frameworks' float32
    gradients, which is no measure of their accuracy.

    The biases of convolutions followed by BatchNorm have zero gradient in exact arithmetic (BatchNorm
    removes the batch mean): their float64 gradient is checked to be below 1e-12 of their block's (conv and
    BatchNorm), and their float32 one, rounding alone, is measured against the block's gradient norm."""
    theirs32, ours32 = pair(dtype="float32")
    theirs64 = copy.deepcopy(theirs32).double()
    for net in (theirs32, ours32):
        net.train()
    x = data(batch)
    y = np.random.default_rng(2).uniform(-1, 1, (batch, 1, 70, 70)).astype("float32")
    ours, theirs = gradients(theirs32, ours32, x, y)
    x64, y64 = x.astype("float64"), y.astype("float64")
    pre = {"ours": leaky_relu_inputs(ours32, x), "PyTorch's": leaky_relu_inputs(theirs32, x)}
    got = {"ours": ours, "PyTorch's": theirs}
    blocks = {}
    for n in ours:  # a (transposed) convolution and its BatchNorm: encoder.3.0.*, encoder.3.1.*; head.*
        blocks.setdefault(n.split(".")[0] if n.startswith("head") else n.rsplit(".", 2)[0], []).append(n)
    for who, g32 in got.items():
        exact = exact_on_the_same_pieces(theirs64, ours32, pre[who], x64, y64)
        errors = {}
        for names in blocks.values():
            block = np.sqrt(sum(np.square(exact[n]).sum() for n in names))
            for n in names:
                g = exact[n]
                if n.endswith(".0.bias"):  # a convolution's bias, ahead of BatchNorm
                    assert np.linalg.norm(g) < 1e-12 * block, n
                    errors[n] = np.linalg.norm(g32[n] - g) / block
                else:
                    errors[n] = np.linalg.norm(g32[n] - g) / np.linalg.norm(g)
        worst = max(errors, key=errors.get)
        print(f"batch {batch}: {who} float32 gradient vs the exact one on its pieces: {errors[worst]:.1e} ({worst})")
        assert errors[worst] <= 3e-3, (who, worst, errors[worst])
    flips = sum(int(((p > 0) != (q > 0)).sum()) for p, q in zip(*pre.values()))
    print(f"pre-activations on different pieces in the two frameworks: {flips} of {sum(p.size for p in pre['ours'])}")


def test_converter_names_a_width_mismatch():
    theirs, _ = pair()
    other = VelocityGenerator(("data",), ("velocity",), dims=(4, 8, 8, 16, 32), upsample="deconv")
    with pytest.raises(ValueError, match=r"convblock8.layers.0.weight has shape \[16, 16, 8, 9\], our "
                                         r"encoder.13.0.weight \[32, 16, 8, 9\]"):
        openfwi_generator_state(theirs.state_dict(), other)
    bilinear = VelocityGenerator(("data",), ("velocity",), dims=DIMS, upsample="bilinear")
    with pytest.raises(ValueError, match=r"deconv2_1.layers.0.weight has shape \[16, 16, 4, 4\], our "
                                         r"decoder.2.1.0.weight \[16, 16, 3, 3\]"):
        openfwi_generator_state(theirs.state_dict(), bilinear)
    with pytest.raises(KeyError, match=r"key 'convblock1.layers.0.weight' not found"):
        openfwi_generator_state({}, VelocityGenerator(("data",), ("velocity",), dims=DIMS, upsample="deconv"))


@pytest.mark.parametrize("train, dtype, tol", [(False, "float32", 1e-5), (True, "float64", 1e-8)])
def test_critic_with_openfwi_norm_layers_agrees(train, dtype, tol):
    from ppsci_ext.arch import VelocityDiscriminator
    from ppsci_ext.arch.openfwi_weights import openfwi_critic_state
    from ppsci_ext.testing.openfwi_nets import discriminator

    torch.manual_seed(3)
    theirs = discriminator((4, 8, 8, 16)).to(getattr(torch, dtype))
    paddle.set_default_dtype(dtype)
    try:
        ours = VelocityDiscriminator(("velocity",), ("score",), dims=(4, 8, 8, 16), norm=True)
    finally:
        paddle.set_default_dtype("float32")
    ours.set_state_dict({k: paddle.to_tensor(v) for k, v in openfwi_critic_state(theirs.state_dict(), ours).items()})
    theirs.train(train), ours.train() if train else ours.eval()
    x = np.random.default_rng(4).uniform(-1, 1, (4, 1, 70, 70)).astype(dtype)
    want = theirs(torch.from_numpy(x))
    got = ours({"velocity": paddle.to_tensor(x)})["score"]
    assert got.shape == [4, 1] and np.abs(got.numpy() - want.detach().numpy()).max() <= tol
    with pytest.raises(ValueError, match="norm=true"):
        openfwi_critic_state(theirs.state_dict(), VelocityDiscriminator(("v",), ("s",), dims=(4, 8, 8, 16)))


@pytest.mark.timeout(300)
def test_twenty_training_steps_follow_the_same_loss_curve():
    """InversionNet's supervised loss (L1 + L2), AdamW, training-mode BatchNorm, identical batches and initial
    weights, float64: the two loss curves agree to 1e-3 relative (8.8e-9 measured). In float32 they part by
    2.2% after 20 steps of batch 2: the rounding differences above, fed back through the updates."""
    theirs, ours = pair(dtype="float64")
    theirs.train(), ours.train()
    rng = np.random.default_rng(5)
    batches = [(rng.standard_normal((2, 5, 1000, 70)), rng.uniform(-1, 1, (2, 1, 70, 70))) for _ in range(20)]
    opt_t = torch.optim.AdamW(theirs.parameters(), lr=1e-3, betas=(0.5, 0.9), weight_decay=1e-4)
    opt_p = paddle.optimizer.AdamW(1e-3, beta1=0.5, beta2=0.9, parameters=ours.parameters(), weight_decay=1e-4)
    curves = ([], [])
    for x, y in batches:
        d = theirs(torch.from_numpy(x)) - torch.from_numpy(y)
        loss = d.abs().mean() + d.square().mean()
        opt_t.zero_grad(), loss.backward(), opt_t.step()
        curves[0].append(loss.item())
        d = ours({"data": paddle.to_tensor(x)})["velocity"] - paddle.to_tensor(y)
        loss = d.abs().mean() + d.square().mean()
        opt_p.clear_grad(), loss.backward(), opt_p.step()
        curves[1].append(float(loss))
    theirs_c, ours_c = map(np.asarray, curves)
    assert theirs_c[-1] < theirs_c[0]  # it trains
    assert np.abs(ours_c - theirs_c).max() <= 1e-3 * np.abs(theirs_c).max()


def test_converted_pth_loads_as_an_eval_checkpoint(tmp_path, monkeypatch):
    """OpenFWI-style .pth ({'model': state_dict}) -> python -m ppsci_ext.arch.openfwi_weights -> a checkpoint that
    the example's loader reads into the same generator, giving the PyTorch network's output."""
    import sys

    from ppsci_ext import runtime
    from ppsci_ext.arch import openfwi_weights

    theirs, _ = pair()
    theirs.eval()
    torch.save({"model": theirs.state_dict(), "epoch": 3}, tmp_path / "openfwi.pth")
    monkeypatch.setattr(sys, "argv", ["x", str(tmp_path / "openfwi.pth"), str(tmp_path / "g.pdparams"),
                                      "--dims", *map(str, DIMS)])
    openfwi_weights.main()
    build = lambda: VelocityGenerator(("data",), ("velocity",), dims=DIMS, upsample="deconv")  # noqa: E731
    ours = runtime.load_trained(str(tmp_path / "g.pdparams"), build, "-", lambda s: s["nets"]["generator"])
    x = data(2)
    with torch.no_grad():
        want = theirs(torch.from_numpy(x)).numpy()
    assert np.abs(ours({"data": paddle.to_tensor(x)})["velocity"].numpy() - want).max() <= 1e-5


@pytest.mark.timeout(600)
@pytest.mark.parametrize("schedule, agrees", [("openfwi", True), ("same_batch", False)])
def test_twenty_wgan_gp_iterations_of_the_paper_config_follow_openfwis_loop(schedule, agrees, monkeypatch, tmp_path):
    """The paper config's WGAN-GP training (its losses, optimisers, n_critic 5 and OpenFWI's schedule) in our
    trainer against OpenFWI's loop in PyTorch (``openfwi_gan_pass``): generator and critic with BatchNorm,
    identical initial weights, batches and gradient-penalty interpolation weights, float64. Every critic,
    gradient-penalty and generator loss of 20 batches agrees to 1e-3 relative (5.6e-6 measured); with the
    same-batch schedule instead the curves part (6.1 relative), so the comparison tells the two loops apart."""
    import itertools
    from types import SimpleNamespace

    from ppsci_ext.arch import VelocityDiscriminator
    from ppsci_ext.arch.openfwi_weights import openfwi_critic_state
    from ppsci_ext.testing.openfwi_nets import discriminator
    from ppsci_ext.testing.openfwi_nets import openfwi_gan_pass
    from ppsci_ext.train import gan

    cfg = compose_config("velocitygan_paper", [f"TRAIN.gan_schedule={schedule}"])
    t = cfg.TRAIN
    g_t, g_p = pair(seed=6, dtype="float64")
    torch.manual_seed(7)
    d_t = discriminator((4, 8, 8, 16)).double()
    paddle.set_default_dtype("float64")
    try:
        d_p = VelocityDiscriminator(("velocity",), ("score",), dims=(4, 8, 8, 16), norm=True)
    finally:
        paddle.set_default_dtype("float32")
    d_p.set_state_dict({k: paddle.to_tensor(v) for k, v in openfwi_critic_state(d_t.state_dict(), d_p).items()})
    rng = np.random.default_rng(8)
    batches = [(rng.standard_normal((2, 5, 1000, 70)), rng.uniform(-1, 1, (2, 1, 70, 70))) for _ in range(20)]
    alphas = [rng.uniform(0, 1, (2, 1, 1, 1)) for _ in batches]

    def adamw(net):
        return torch.optim.AdamW(net.parameters(), lr=t.lr_g, betas=tuple(t.betas), weight_decay=t.weight_decay)

    theirs = openfwi_gan_pass(g_t, d_t, [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches],
                              adamw(g_t), adamw(d_t), t.n_critic, t.lambda_g1v, t.lambda_g2v, t.lambda_adv,
                              t.lambda_gp, [torch.from_numpy(a) for a in alphas])

    vg = load_example("velocitygan", "VelocityGAN")
    loader = [({"data": paddle.to_tensor(x)}, {"velocity": paddle.to_tensor(y)}, {}) for x, y in batches]
    constraint = SimpleNamespace(output_keys=("velocity",), data_loader=loader, loss=vg.generator_loss(cfg))
    trainer = gan.WGANGPTrainer(generator=g_p, critic=d_p, constraint=constraint, critic_loss=vg.critic_loss(cfg),
                                opt_g=vg.adamw(cfg, t.lr_g, g_p), opt_d=vg.adamw(cfg, t.lr_d, d_p), train=t,
                                checkpoint=str(tmp_path / "c.pdparams"), config={}, validate=None)
    monkeypatch.setattr(gan, "loader_pass", lambda data_loader, epoch: iter(data_loader))
    eps = itertools.cycle(alphas)  # openfwi draws one per batch; same_batch n_critic per batch
    monkeypatch.setattr(paddle, "rand", lambda shape, dtype=None: paddle.to_tensor(next(eps), dtype=dtype))
    ours, real_update = [], trainer._update

    def update(losses, net, opt):  # each batch's losses as the trainer computes them: a critic step opens a row
        out = real_update(losses, net, opt)
        ours.append(dict(out)) if net is d_p else ours[-1].update(out)
        return out

    trainer._update = update
    trainer.steps_per_epoch = len(loader)
    trainer.train_epoch()
    keys = sorted({k for row in theirs for k in row})
    assert keys == ["adv", "critic", "gp", "l1", "l2"]
    gen_rows = [i for i, row in enumerate(theirs) if "l1" in row]
    assert gen_rows == [4, 9, 14, 19]
    scale = {k: max(abs(row[k]) for row in theirs if k in row) or 1.0 for k in keys}  # l2: weight 0 here
    worst = max(abs(o.get(k, np.nan) - th[k]) / scale[k] for o, th in zip(ours, theirs) for k in th)
    print(f"{schedule}: worst relative loss difference over 20 batches {worst:.2e}")
    if agrees:
        assert [sorted(o) for o in ours] == [sorted(th) for th in theirs] and worst <= 1e-3
    else:
        assert not worst <= 1e-3
