"""Accelerator and system catalogs: bundled data, overlay, lookups, user files, scale-out."""

from __future__ import annotations

import csv
import io
import json
from importlib.resources import files
from pathlib import Path

import pytest

from suanli.errors import ConfigError, MissingSpec, UnknownHardware, UnknownSystem
from suanli.specs.accelerator import (
    FAMILIES, Accelerator, HardwareCatalog, load_hardware,
)
from suanli.specs.dtypes import DType
from suanli.specs.system import (
    SCALEOUT_KINDS, default_system_for, load_systems, parse_nics, parse_price,
)

DATA = files("suanli") / "data" / "hardware"


def bundled_csv(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((DATA / name).read_text(encoding="utf-8"))))


@pytest.fixture(autouse=True)
def no_user_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUANLI_HARDWARE_PATH", raising=False)
    monkeypatch.delenv("SUANLI_SYSTEMS_PATH", raising=False)


@pytest.fixture
def hw() -> HardwareCatalog:
    return load_hardware()


# --- bundled accelerators -------------------------------------------------------------

def test_every_csv_row_loads(hw: HardwareCatalog) -> None:
    rows = bundled_csv("accelerators.csv")
    assert len(rows) == 47
    assert len(hw) == 47
    assert hw.ids() == [row["id"] for row in rows]


def test_bundled_catalog_is_cached() -> None:
    assert load_hardware() is load_hardware()


def test_h20_96gb_values_match_csv(hw: HardwareCatalog) -> None:
    h20 = hw.get("nvidia_h20_96gb")
    assert (h20.memory_gb, h20.mem_bw_gbs, h20.bf16_tflops, h20.fp8_tflops) == (96, 4000, 148, 296)
    assert h20.memory_bytes == 96 * 2**30  # vendor memory GB are binary (see Accelerator.memory_bytes)
    assert h20.mem_bw == 4000e9
    assert h20.peak_flops(DType.BF16) == pytest.approx(148e12)
    assert h20.peak_flops(DType.FP16) == pytest.approx(148e12)
    assert h20.peak_flops("fp8") == pytest.approx(296e12)
    assert h20.peak_flops(DType.FP4) is None  # Hopper has no FP4 tensor path
    assert h20.scaleup_bw_unidir == pytest.approx(450e9)  # NVLink 4: 900 GB/s bidirectional
    assert not h20.is_pcie_only and h20.assumed == {} and h20.flags() == []
    assert h20.family == "nvidia-hopper-china" and h20.china_buyable


@pytest.mark.parametrize("chip", ["huawei_ascend_910b", "nvidia_a100_sxm_80gb"])
def test_chips_without_fp8(hw: HardwareCatalog, chip: str) -> None:
    acc = hw.get(chip)
    assert acc.peak_flops(DType.FP8) is None
    assert not acc.supports_compute(DType.FP8)
    assert acc.supports_compute(DType.BF16)


def test_int4_is_storage_only(hw: HardwareCatalog) -> None:
    assert hw.get("H20").peak_flops(DType.INT4) is None


def test_missing_spec_names_the_field(hw: HardwareCatalog) -> None:
    mlu590 = hw.get("MLU590")
    with pytest.raises(MissingSpec) as err:
        _ = mlu590.mem_bw
    assert err.value.field == "mem_bw_gbs"
    with pytest.raises(MissingSpec):
        _ = mlu590.scaleup_bw_unidir


def test_pcie_cards_use_the_pcie_x16_figure(hw: HardwareCatalog) -> None:
    assert hw.get("L20").is_pcie_only
    assert hw.get("L20").scaleup_bw_unidir == pytest.approx(32e9)  # PCIe 4.0 x16 = 64 bidir
    assert hw.get("RTX-PRO-6000").scaleup_bw_unidir == pytest.approx(64e9)
    card = Accelerator(id="x", scaleup_link="PCIe", pcie_gen=5)  # no figure: from pcie_gen
    assert card.scaleup_bw_unidir == pytest.approx(64e9)
    assert not hw.get("H200-NVL").is_pcie_only  # PCIe card with an NVLink bridge


def test_families_and_metadata_complete(hw: HardwareCatalog) -> None:
    for acc in hw:
        assert acc.family in FAMILIES and acc.family != "other", acc.id
        assert acc.aliases, acc.id
        assert acc.origin == "bundled"


@pytest.mark.parametrize("name, expected", [
    ("H20", "nvidia_h20_96gb"), ("h20", "nvidia_h20_96gb"), ("H20-96GB", "nvidia_h20_96gb"),
    ("H20-141G", "nvidia_h20_141gb"), ("h20_141gb", "nvidia_h20_141gb"),
    ("910B", "huawei_ascend_910b"), ("910C", "huawei_ascend_910c"), ("H200", "nvidia_h200_sxm"),
    ("RTX-PRO-6000", "nvidia_rtx_pro_6000_bse"), ("rtx pro 6000", "nvidia_rtx_pro_6000_bse"),
    ("NVIDIA_H100_SXM", "nvidia_h100_sxm"), ("mi300x", "amd_mi300x"), ("B30", "nvidia_b30"),
])
def test_aliases_resolve(hw: HardwareCatalog, name: str, expected: str) -> None:
    assert hw.resolve_id(name) == expected
    assert hw.get(name).id == expected
    assert name in hw


def test_unknown_name_lists_closest_ids(hw: HardwareCatalog) -> None:
    with pytest.raises(UnknownHardware) as err:
        hw.get("H21")
    message = str(err.value)
    assert "nvidia_h20_96gb" in message
    listed = message.split("closest ids:")[1].split(",")
    assert 3 <= len(listed) <= 5
    assert "H21" not in hw


def test_rumoured_chip_is_flagged(hw: HardwareCatalog) -> None:
    b30 = hw.get("nvidia_b30")
    assert b30.unverified
    assert any("rumoured" in flag and "unverified" in flag for flag in b30.flags())
    assert hw.get("huawei_ascend_950dt").unverified  # announced
    assert not hw.get("H20").unverified


def test_h20_141gb_assumed_values_are_flagged(hw: HardwareCatalog) -> None:
    h20e = hw.get("H20-141GB")
    assert h20e.memory_gb == 141 and "memory_gb" not in h20e.assumed  # published
    assert h20e.mem_bw_gbs == 4800 and h20e.bf16_tflops == 148 and h20e.fp8_tflops == 296
    for name in ("mem_bw_gbs", "bf16_tflops", "fp8_tflops", "scaleup_bw_gbs_bidir", "tdp_w"):
        assert h20e.assumed[name]
        assert any(flag.startswith(f"assumed value: {name} (") for flag in h20e.flags())


def test_overlay_only_fills_empty_cells(hw: HardwareCatalog) -> None:
    columns = {"bf16_tflops": "bf16_tflops_dense", "fp8_tflops": "fp8_tflops_dense",
               "int8_tops": "int8_tops_dense", "fp4_tflops": "fp4_tflops_dense",
               "scaleup_bw_gbs_bidir": "scaleup_bw_gbs_per_gpu_bidir",
               "scaleup_domain": "scaleup_domain_gpus"}
    raw = {row["id"]: row for row in bundled_csv("accelerators.csv")}
    filled = 0
    for acc in hw:
        for name in acc.assumed:
            assert raw[acc.id][columns.get(name, name)] == "", (acc.id, name)
            filled += 1
    assert filled > 10
    overlay = bundled_csv("overlay.csv")
    assert all(row["source"] for row in overlay)


# --- user files ------------------------------------------------------------------------

def test_user_csv_overrides_and_adds(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("id,mem_bw_gbs,aliases,name,memory_gb,bf16_tflops_dense,family\n"
                    "nvidia_h20_141gb,4500,MyH20,,,,\n"
                    "acme_x1,,X1,Acme X1,64,200,other\n", encoding="utf-8")
    hw = load_hardware(path)
    assert len(hw) == 48
    h20e = hw.get("MyH20")
    assert h20e.id == "nvidia_h20_141gb" and h20e.mem_bw_gbs == 4500
    assert "mem_bw_gbs" not in h20e.assumed and "bf16_tflops" in h20e.assumed
    assert h20e.name == "H20 (141GB HBM3e variant)"  # empty cell: not overridden
    assert hw.get("H20-141G").id == "nvidia_h20_141gb"  # bundled aliases kept
    assert h20e.origin == str(path) and any(str(path) in flag for flag in h20e.flags())
    x1 = hw.get("x1")
    assert x1.memory_gb == 64 and x1.peak_flops(DType.BF16) == pytest.approx(200e12)
    assert load_hardware().get("H20-141G").mem_bw_gbs == 4800  # bundled cache untouched


def test_user_json_directory_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "hw"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps({"accelerators": [
        {"id": "acme_y", "memory_gb": 32, "bf16_tflops": 50, "aliases": ["Y1"],
         "china_buyable": True}]}), encoding="utf-8")
    monkeypatch.setenv("SUANLI_HARDWARE_PATH", str(folder))
    y = load_hardware().get("Y1")
    assert y.china_buyable and y.bf16_tflops == 50 and y.family == "other"


@pytest.mark.parametrize("text, field", [
    ("id,memory_gb\nacme_z,lots\n", "memory_gb"),
    ("id,tdp_w\nacme_z,-5\n", "tdp_w"),
    ("name,memory_gb\nZ,64\n", "id"),
    ("id,mem_bw\nacme_z,100\n", "mem_bw"),
    ("id,family\nacme_z,martian\n", "family"),
    ("id,memory_gb\nacme_z,1\nacme_z,2\n", "id"),
])
def test_malformed_user_csv(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_hardware(path)
    assert err.value.field == field
    assert "bad.csv" in str(err.value) and field in str(err.value)


def test_malformed_json_and_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[{"id": "acme", "tdp_w": "hot"}]', encoding="utf-8")
    with pytest.raises(ConfigError, match="entry 1.*tdp_w"):
        load_hardware(path)
    with pytest.raises(ConfigError, match="no such file"):
        load_hardware(tmp_path / "missing.csv")


def test_nonnumeric_csv_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,memory_gb\nok_chip,1\nacme_z,lots\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 3.*memory_gb.*'lots'"):
        load_hardware(path)


def test_ambiguous_alias_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("id,aliases\nacme_h,H20\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="ambiguous"):
        load_hardware(path)


# --- systems --------------------------------------------------------------------------

def test_every_system_row_loads() -> None:
    systems = load_systems()
    assert len(bundled_csv("systems.csv")) == 22 and len(systems) == 22
    for system in systems:
        assert system.scaleout_kind in SCALEOUT_KINDS
        assert system.scaleout_gbps_per_gpu > 0


def test_leiphone_h20_server_scaleout_is_far_below_b200() -> None:
    systems = load_systems()
    leiphone = systems.get("cn_h20_141gb_server_leiphone")
    nebius = systems.get("HGX_B200_NEBIUS_MLPERF")
    assert nebius.scaleout_gbps_per_gpu == 400 and nebius.scaleout_kind == "infiniband"
    assert nebius.scaleout_bw == pytest.approx(50e9)
    assert leiphone.gpu_id == "nvidia_h20_141gb"
    assert leiphone.scaleout_gbps_per_gpu * 20 < nebius.scaleout_gbps_per_gpu
    assert "scaleout_gbps_per_gpu" in leiphone.assumed


def test_nic_parsing_examples() -> None:
    assert parse_nics("10x 400Gb InfiniBand", 8)[:2] == (400, "infiniband")
    atlas = parse_nics("4x dual-port 200GE RoCE (parameter plane) + 1x dual-port 25GE RoCE "
                       "(data) + 1x 4-port 25GE (business)", 8)
    assert atlas is not None and atlas[:2] == (200, "roce") and atlas.reason == ""
    assert parse_nics("4x 10GbE (2x X710 + 2x X550T)", 8)[:2] == (5, "ethernet")
    assert parse_nics("", 8) is None
    assert parse_nics("6,912x 800G LPO optical transceivers (all-optical UB mesh)", 384) is None


def test_price_ranges() -> None:
    module = load_systems().get("cn_h20_8card_module_2025")
    assert (module.price_low, module.price_high, module.currency) == (880000, 1050000, "CNY")
    assert module.price_mid == pytest.approx(965000)
    assert load_systems().get("dgx_b300").price_mid is None
    assert parse_price("1,200,000") == (1.2e6, 1.2e6)
    with pytest.raises(ValueError):
        parse_price("9-1")


def test_unknown_system_lists_closest() -> None:
    with pytest.raises(UnknownSystem, match="dgx_h100"):
        load_systems().get("dgx_h10")


def test_default_system_for_every_accelerator(hw: HardwareCatalog) -> None:
    systems = load_systems()
    for acc in hw:
        system = default_system_for(acc, systems)
        assert system.gpu_id == acc.id and system.scaleout_bw > 0
        if system.origin == "synthetic":
            assert system.gpus == 8 and "scaleout_gbps_per_gpu" in system.assumed
    assert default_system_for(hw.get("H200"), systems).id == "hgx_h200_nvidia_mlperf"
    assert default_system_for(hw.get("H20-141G"), systems).id == "cn_h20_141gb_server_leiphone"


def test_user_systems_file(tmp_path: Path) -> None:
    path = tmp_path / "sys.csv"
    path.write_text("id,name,gpus,gpu_id,nics,price,currency\n"
                    "my_h20_box,My box,8,H20,8x 200G RoCE,1000000-1100000,CNY\n"
                    "dgx_h100,,,,8x ConnectX-7 NDR 400Gb/s,,\n", encoding="utf-8")
    systems = load_systems(path)
    mine = systems.get("my_h20_box")
    assert mine.gpu_id == "nvidia_h20_96gb" and mine.scaleout_gbps_per_gpu == 200
    assert mine.price_mid == pytest.approx(1.05e6) and mine.origin == str(path)
    dgx = systems.get("dgx_h100")
    assert dgx.scaleout_gbps_per_gpu == 400 and dgx.price_low == 270000  # merged fields
    bad = tmp_path / "bad.csv"
    bad.write_text("id,gpu_id\nx,H21\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="gpu_id"):
        load_systems(bad)
