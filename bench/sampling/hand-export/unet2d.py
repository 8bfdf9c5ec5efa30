# The reference of `npm run bench:engines -- --hand`: medsynth's default UNet2D (models/default) written
# by hand in PyTorch, the way one would export it to ONNX without medsynth, with the same inputs as the
# recorded graph: x [1, 64, 64, 1] NHWC and FiLM scale/shift per ResBlock. Random weights: timing only
# (same architecture and parameter count, 1,013,633 on the image path).
#   apt-get install -y --no-install-recommends python3-torch python3-onnx   # Debian: PyTorch 1.13
#   /usr/bin/python3 bench/sampling/hand-export/unet2d.py /tmp/hand.onnx
import sys
import torch, torch.nn as nn, torch.nn.functional as F
B, G = 32, 8
class Res(nn.Module):
    def __init__(s, cin, cout):
        super().__init__()
        s.n1 = nn.GroupNorm(G, cin); s.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        s.n2 = nn.GroupNorm(G, cout); s.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        s.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None
    def forward(s, x, scale, shift):
        h = s.c1(F.silu(s.n1(x)))
        h = s.n2(h) * (1 + scale[:, :, None, None]) + shift[:, :, None, None]
        return (s.skip(x) if s.skip is not None else x) + s.c2(F.silu(h))
class Attn(nn.Module):
    def __init__(s, c, heads=4):
        super().__init__(); s.n = nn.GroupNorm(G, c); s.qkv = nn.Linear(c, 3 * c); s.proj = nn.Linear(c, c); s.h = heads
    def forward(s, x):
        b, c, hh, ww = x.shape
        t = s.n(x).reshape(b, c, hh * ww).transpose(1, 2)  # [b, L, c]
        q, k, v = s.qkv(t).chunk(3, dim=-1)
        d = c // s.h
        sp = lambda z: z.reshape(b, hh * ww, s.h, d).transpose(1, 2)
        a = torch.softmax(sp(q) @ sp(k).transpose(-1, -2) / d ** 0.5, dim=-1) @ sp(v)
        o = s.proj(a.transpose(1, 2).reshape(b, hh * ww, c))
        return x + o.transpose(1, 2).reshape(b, c, hh, ww)
class UNet(nn.Module):
    def __init__(s):
        super().__init__()
        s.cin = nn.Conv2d(1, B, 3, padding=1)
        s.d0 = Res(32, 32); s.dn0 = nn.Conv2d(32, 32, 3, stride=2, padding=1)
        s.d1 = Res(32, 64); s.dn1 = nn.Conv2d(64, 64, 3, stride=2, padding=1)
        s.d2 = Res(64, 64); s.a2 = Attn(64)
        s.m0 = Res(64, 64); s.ma = Attn(64); s.m1 = Res(64, 64)
        s.u20 = Res(128, 64); s.ua20 = Attn(64); s.u21 = Res(128, 64); s.ua21 = Attn(64); s.up2 = nn.Conv2d(64, 64, 3, padding=1)
        s.u10 = Res(128, 64); s.u11 = Res(96, 64); s.up1 = nn.Conv2d(64, 64, 3, padding=1)
        s.u00 = Res(96, 32); s.u01 = Res(64, 32)
        s.on = nn.GroupNorm(G, 32); s.oc = nn.Conv2d(32, 1, 3, padding=1)
    def forward(s, x, *f):
        f = list(f); film = lambda: (f.pop(0), f.pop(0))
        x = x.permute(0, 3, 1, 2)
        h = s.cin(x); sk = [h]
        h = s.d0(h, *film()); sk.append(h); h = s.dn0(h); sk.append(h)
        h = s.d1(h, *film()); sk.append(h); h = s.dn1(h); sk.append(h)
        h = s.a2(s.d2(h, *film())); sk.append(h)
        h = s.m1(s.ma(s.m0(h, *film())), *film())
        h = s.ua20(s.u20(torch.cat([h, sk.pop()], 1), *film())); h = s.ua21(s.u21(torch.cat([h, sk.pop()], 1), *film()))
        h = s.up2(F.interpolate(h, scale_factor=2, mode='nearest'))
        h = s.u10(torch.cat([h, sk.pop()], 1), *film()); h = s.u11(torch.cat([h, sk.pop()], 1), *film())
        h = s.up1(F.interpolate(h, scale_factor=2, mode='nearest'))
        h = s.u00(torch.cat([h, sk.pop()], 1), *film()); h = s.u01(torch.cat([h, sk.pop()], 1), *film())
        return s.oc(F.silu(s.on(h))).permute(0, 2, 3, 1)
m = UNet().eval()
chans = [32, 64, 64, 64, 64, 64, 64, 64, 64, 32, 32]
films = []
for c in chans: films += [torch.zeros(1, c), torch.zeros(1, c)]
names = ['x'] + [n for i in range(len(chans)) for n in (f'scale{i}', f'shift{i}')]
print('params', sum(p.numel() for p in m.parameters()))
torch.onnx.export(m, (torch.zeros(1, 64, 64, 1), *films), sys.argv[1] if len(sys.argv) > 1 else 'hand.onnx', opset_version=17, input_names=names, output_names=['out0'])
print('exported')
