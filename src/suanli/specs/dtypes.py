"""Numeric formats: storage size and the tensor-throughput column each computes on."""

from __future__ import annotations

from enum import Enum

from suanli.errors import InvalidInput


class DType(str, Enum):
    """Storage / compute formats named as in the validation schema and vLLM flags."""

    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    INT8 = "int8"
    INT4 = "int4"
    FP4 = "fp4"
    MXFP4 = "mxfp4"

    @property
    def bytes(self) -> float:
        """Bytes per element, including block-scale overhead for the 4-bit formats.

        NVFP4 stores one FP8 scale per 16 values (4.5 bits/value); MXFP4 one E8M0
        scale per 32 values (4.25 bits/value); INT4 (AWQ/GPTQ W4A16) one FP16 scale
        per group of 128 (4.125 bits).  Sources: NVIDIA NVFP4 blog (2025-06), OCP
        Microscaling spec v1.0 (2023-09), AWQ paper (group size 128).
        """
        return _BYTES[self]

    @classmethod
    def parse(cls, value: "str | DType", *, field: str = "dtype") -> "DType":
        if isinstance(value, DType):
            return value
        text = str(value).strip().lower()
        aliases = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "float32": "fp32",
                   "fp8_e4m3": "fp8", "fp8_e5m2": "fp8", "nvfp4": "fp4", "w4a16": "int4",
                   "w8a8": "int8", "auto": "bf16"}
        text = aliases.get(text, text)
        try:
            return cls(text)
        except ValueError:
            allowed = ", ".join(d.value for d in cls)
            raise InvalidInput(f"unknown {field} {value!r}; expected one of: {allowed}",
                               field=field) from None


_BYTES = {
    DType.FP32: 4.0,
    DType.BF16: 2.0,
    DType.FP16: 2.0,
    DType.FP8: 1.0,
    DType.INT8: 1.0,
    DType.INT4: 4.125 / 8,
    DType.FP4: 4.5 / 8,
    DType.MXFP4: 4.25 / 8,
}
