"""The Triton kernels compiled ahead of time for a GPU this machine does not have: Hopper (sm_90: H100, H200).

The notebook `01b_triton` runs the kernels through Triton's interpreter, which never lowers them: a kernel the
interpreter runs can still fail to compile (layouts, dtypes, an op the backend lacks), or ask for more shared
memory than a block may have. Here every launch that `triton_local_attention` makes, forward and backward, is
recorded instead of run, then compiled to a cubin by Triton's own compiler and ptxas.
"""
import pytest
import torch

triton = pytest.importorskip('triton')
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

import adaptive_hybrid_attention.triton_local as tlm
from adaptive_hybrid_attention.triton_local import RefCase, _case_inputs, triton_local_attention

HOPPER = GPUTarget('cuda', 90, 32)
MAX_SHARED = 227 * 1024          # the most shared memory one block may use on sm_90
KERNELS = ('_fwd_kernel', '_dkdv_kernel', '_dq_kernel')
TYPES = {torch.float32: 'fp32', torch.bfloat16: 'bf16', torch.float16: 'fp16', torch.float64: 'fp64',
         torch.int32: 'i32', torch.int8: 'i8'}
PER_QUERY = ('window', 'beta', 'span')
LAYER = RefCase(T=200, E=64, wmax=90, padding='suffix', bias_len=33, beta=True, ramp=4.0)
CASES = {  # (problem, dtype, warps): what the layer runs (per (b,h), or per query when causal), the plain fp32 kernel,
           # and the layer's problem at the 8 warps the GPU benchmark compares
    'bf16, per (b,h), padding, bias, beta, ramp': (LAYER, torch.bfloat16, 4),
    'bf16, per query, causal, padding, bias, beta, ramp': (RefCase(T=200, E=64, wmax=90, causal=True, padding='suffix', bias_len=33, beta=True, ramp=4.0, per_query=PER_QUERY), torch.bfloat16, 4),
    'fp32, per (b,h), plain': (RefCase(T=100, E=32, wmax=40), torch.float32, 4),
    'bf16, per (b,h), padding, bias, beta, ramp, 8 warps': (LAYER, torch.bfloat16, 8),
}


def _signature(fn, args, constexprs) -> dict:
    "Triton's type string of each argument of a recorded launch."
    sig = {n: '*' + TYPES[a.dtype] if isinstance(a, torch.Tensor) else 'i32' if isinstance(a, int) else 'fp32'
           for n, a in zip(fn.arg_names, args)}
    return {**sig, **{n: 'constexpr' for n in constexprs}}


@pytest.fixture
def record(monkeypatch, tmp_path):
    "A function that runs a problem's forward and backward with the kernels recorded, not run; returns the launches."
    if not tlm._BUILT: tlm._build()
    if tlm._BUILT['interpreted']: pytest.skip('the kernels were built for the interpreter (TRITON_INTERPRET=1)')
    monkeypatch.setenv('TRITON_CACHE_DIR', str(tmp_path))        # compile for real, not from an earlier run's cache
    monkeypatch.setattr(tlm, '_kernels', lambda ref: False)      # the Python side as on a GPU: its tiles and precision
    launches = []
    class Recorder:
        def __init__(self, fn): self.fn = fn
        def __getitem__(self, grid):
            return lambda *args, num_warps, **constexprs: launches.append((self.fn, args, constexprs, num_warps))
    for name in KERNELS: monkeypatch.setattr(tlm, name, Recorder(getattr(tlm, name)))
    def run(case: RefCase, dtype, num_warps: int) -> list:
        leaves, window, kpm = _case_inputs(case, 'cpu')
        qkv = [leaves[n].detach().to(dtype).requires_grad_() for n in 'qkv']
        opts = {n: leaves[n] for n in ('rel_bias', 'beta', 'span') if n in leaves}
        out = triton_local_attention(*qkv, window, key_padding_mask=kpm, causal=case.causal, ramp=case.ramp,
                                     num_warps=num_warps, **opts)
        out.float().sum().backward()
        return launches
    return run


@pytest.mark.parametrize('name', list(CASES))
def test_every_launch_compiles_for_hopper(record, name):
    launches = record(*CASES[name])
    warps = CASES[name][2]
    assert [(fn.__name__, n) for fn, _, _, n in launches] == [(k, warps) for k in KERNELS]
    for fn, args, constexprs, num_warps in launches:
        kernel = triton.compile(ASTSource(fn, _signature(fn, args, constexprs), constexprs=constexprs), target=HOPPER,
                                options=dict(num_warps=num_warps))
        assert kernel.metadata.num_warps == num_warps, fn.__name__
        assert len(kernel.asm['cubin']) > 0, fn.__name__
        assert kernel.metadata.shared <= MAX_SHARED, (fn.__name__, kernel.metadata.shared)
