"""How a model is deployed (parallel layout, precisions, engine) and what load it sees."""

from __future__ import annotations

import math
from dataclasses import dataclass

from suanli.errors import InvalidInput
from suanli.specs.dtypes import DType
from suanli.specs.model import ModelSpec

ENGINES = ("vllm", "sglang", "trtllm", "mindie", "other")
SCENARIOS = ("offline", "server", "fixed-concurrency", "single-request", "prefill-only", "decode-only")

# Longest sequence suanli accepts; beyond any published context window (Llama 4 Scout: 10 M).
MAX_TOKENS = 10_000_000


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """One serving deployment: ``gpus`` accelerators running ``replicas`` copies
    of a ``tp`` x ``pp`` model instance.

    ``ep`` is the expert-parallel size of MoE layers (1 = experts sharded by TP);
    ``dp_attention`` splits the attention of one TP group into data-parallel ranks
    (SGLang ``--enable-dp-attention``), so the MoE layers see the tokens of all
    ranks while each rank holds its own KV cache.
    """

    gpus: int
    tp: int = 1
    pp: int = 1
    ep: int = 1
    dp_attention: int = 1
    weight_dtype: DType = DType.BF16
    kv_dtype: DType = DType.BF16
    engine: str = "vllm"

    @property
    def instance_gpus(self) -> int:
        """Accelerators of one model instance (a replica).  With ``ep > tp``
        (vLLM data-parallel ranks combined with expert parallelism) the EP group
        is the instance and its ranks run attention data-parallel."""
        return max(self.tp, self.ep) * self.pp

    @property
    def attn_dp(self) -> int:
        """Attention data-parallel ranks inside one instance."""
        return self.dp_attention * (self.ep // self.tp if self.ep > self.tp else 1)

    @property
    def replicas(self) -> int:
        return self.gpus // self.instance_gpus

    @property
    def attn_tp(self) -> int:
        """Tensor-parallel width of attention (TP split by attention-DP ranks)."""
        return max(1, self.instance_gpus // self.pp // self.attn_dp)

    @property
    def moe_group(self) -> int:
        """Accelerators over which one MoE layer's experts are spread."""
        return max(self.tp, self.ep)


def validate_deployment(dep: Deployment, model: ModelSpec) -> None:
    """Raise :class:`InvalidInput` (one line, naming the flag) for impossible layouts."""
    for name in ("gpus", "tp", "pp", "ep", "dp_attention"):
        value = getattr(dep, name)
        if not isinstance(value, int) or value < 1:
            raise InvalidInput(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}", field=name)
    if dep.engine not in ENGINES:
        raise InvalidInput(f"unknown engine {dep.engine!r}; expected one of {', '.join(ENGINES)}", field="engine")
    if dep.gpus % dep.instance_gpus:
        raise InvalidInput(f"--gpus {dep.gpus} is not a multiple of one replica's {dep.instance_gpus} GPUs "
                           f"(tp {dep.tp} x pp {dep.pp})", field="gpus")
    if model.num_heads % dep.attn_tp:
        raise InvalidInput(f"attention TP {dep.attn_tp} does not divide the {model.num_heads} attention heads "
                           f"of {model.id}", field="tp")
    if model.attention == "gqa" and dep.attn_tp > model.num_kv_heads and dep.attn_tp % model.num_kv_heads:
        raise InvalidInput(f"TP {dep.attn_tp} is neither a divisor nor a multiple of the {model.num_kv_heads} "
                           f"KV heads of {model.id}", field="tp")
    if dep.tp % dep.dp_attention:
        raise InvalidInput(f"--dp-attention {dep.dp_attention} must divide --tp {dep.tp}", field="dp_attention")
    if dep.pp > model.num_layers:
        raise InvalidInput(f"--pp {dep.pp} exceeds the {model.num_layers} layers of {model.id}", field="pp")
    if dep.ep > 1:
        if not model.is_moe:
            raise InvalidInput(f"--ep {dep.ep} given but {model.id} has no MoE layers", field="ep")
        if dep.ep > 2 * model.num_experts:
            raise InvalidInput(f"--ep {dep.ep} is more than twice the {model.num_experts} experts of {model.id}",
                               field="ep")
        # an EP size that does not divide the experts runs with redundant experts
        # (DeepSeek EPLB: 256 + 32 redundant experts on EP144, 2 per GPU)
        if dep.ep < dep.tp and dep.tp % dep.ep:
            raise InvalidInput(f"--ep {dep.ep} must divide --tp {dep.tp} or be a multiple of it", field="ep")
        if dep.ep > dep.tp and dep.ep % dep.tp:
            raise InvalidInput(f"--ep {dep.ep} must be a multiple of --tp {dep.tp}", field="ep")


@dataclass(frozen=True, kw_only=True)
class Workload:
    """Load on a deployment, in the terms of the validation schema."""

    isl: float
    osl: float
    scenario: str = "offline"
    concurrency: float | None = None     # whole deployment
    request_rate: float | None = None    # requests/s, whole deployment
    num_requests: int | None = None      # requests the benchmark sends in total (None: a long steady run)

    def __post_init__(self) -> None:
        for name in ("isl", "osl"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 1:
                raise InvalidInput(f"--{name} must be at least 1 token, got {value!r}", field=name)
            if value > MAX_TOKENS:
                raise InvalidInput(f"--{name} {value:g} is absurd (more than {MAX_TOKENS:,} tokens)", field=name)
        if self.scenario not in SCENARIOS:
            raise InvalidInput(f"unknown scenario {self.scenario!r}; expected one of {', '.join(SCENARIOS)}",
                               field="scenario")
        if self.concurrency is not None and not (1 <= self.concurrency < math.inf):
            raise InvalidInput(f"--concurrency must be >= 1, got {self.concurrency!r}", field="concurrency")
        if self.request_rate is not None and not (0 < self.request_rate < math.inf):
            raise InvalidInput(f"--request-rate must be a finite number > 0, got {self.request_rate!r}",
                               field="request_rate")
        if self.num_requests is not None and (int(self.num_requests) != self.num_requests
                                              or not 1 <= self.num_requests < 10**12):
            raise InvalidInput(f"--num-requests must be a whole number >= 1, got {self.num_requests!r}",
                               field="num_requests")
        if self.scenario == "server" and self.request_rate is None:
            raise InvalidInput("the server scenario needs --request-rate", field="request_rate")
        if self.scenario == "fixed-concurrency" and self.concurrency is None:
            raise InvalidInput("the fixed-concurrency scenario needs --concurrency", field="concurrency")
