"""The PyTorch timings of the quantizer cases of `make bench` (asr.h section 8), imported by
bench/compare.py: the same sizes as examples/asrtool/vq.c's bench rows, one thread."""
import torch
import torch.nn.functional as F

from compare import timeit


def gumbel_softmax():
    """F.gumbel_softmax's formula with the noise drawn beforehand (asr.h's timing also
    excludes drawing it): hard, straight-through, forward + backward, (1600*2, 320)."""
    logits = torch.randn(1600 * 2, 320, dtype=torch.float32, requires_grad=True)
    v = -torch.empty_like(logits).exponential_().log()
    g = torch.randn(1600 * 2, 320)

    def step():
        y_soft = ((logits + v) / 0.5).softmax(-1)
        index = y_soft.max(-1, keepdim=True)[1]
        y = torch.zeros_like(y_soft).scatter_(-1, index, 1.0) - y_soft.detach() + y_soft
        y.backward(g)
        logits.grad = None
    return timeit(step)


def kmeans_vq():
    """fairseq's KmeansVectorQuantizer maths on (1600, 256), G = 2 separate (320, 128)
    codebooks, distances by torch.cdist, forward + backward of sum(G * zq) + loss."""
    z = torch.randn(1600, 256, dtype=torch.float32, requires_grad=True)
    cb = torch.randn(2, 320, 128, dtype=torch.float32, requires_grad=True)
    g = torch.randn(1600, 256)

    def step():
        zg = z.view(1600, 2, 128).transpose(0, 1)                       # (G, N, E)
        idx = torch.cdist(zg.detach(), cb.detach()).argmin(-1)          # (G, N)
        q = torch.gather(cb, 1, idx.unsqueeze(-1).expand(-1, -1, 128))   # (G, N, E)
        q = q.transpose(0, 1).reshape(1600, 256)
        zq = q.detach() + (z - z.detach())
        loss = F.mse_loss(q, z.detach()) + 0.25 * F.mse_loss(z, q.detach())
        ((g * zq).sum() + loss).backward()
        z.grad = None
        cb.grad = None
    return timeit(step)
