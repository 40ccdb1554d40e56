"""Total cost of ownership of a GPU server, per GPU-hour.

All money in one currency (``TcoInputs.currency``; the app converts first).  Per
server and month (``HOURS_PER_MONTH`` = 730 h):

* **capex** -- the level monthly payment that repays the purchase price ``P`` over the
  depreciation life ``n = 12 * life_years`` months at the financing rate, net of the
  residual value ``R = residual_fraction * P`` recovered at the end::

      i = financing_rate_annual / 12                     (loan convention, nominal)
      capex = (P - R / (1 + i)**n) * i / (1 - (1 + i)**-n)   ;   i = 0: (P - R) / n

* **power** -- nameplate IT power ``W = gpus * gpu_tdp_w + host_overhead_w_per_server``
  drawn at ``busy_power_fraction`` while serving and ``idle_power_fraction`` otherwise,
  times PUE, times the electricity price::

      kWh/h = W/1000 * (u * busy + (1 - u) * idle) * pue

  (with busy = 1, idle = 0 this is "chip TDP x utilisation + host overhead").
* **hosting** -- ``hosting_price_per_kw_month`` per kW of nameplate IT power plus
  ``hosting_price_per_rack_month / servers_per_rack`` (set either to 0 to use the other).
* **maintenance** -- ``maintenance_fraction_per_year * P`` per year.

Each part is divided by the GPUs per server (per GPU wall-clock hour) and by the
utilisation ``u`` (per *utilised* GPU-hour: the hours that serve tokens carry the idle
ones).  Every function takes numpy arrays for ``utilisation`` and
``electricity_price_per_kwh`` and broadcasts (the fair-value sensitivity grid).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from suanli.errors import InvalidInput

HOURS_PER_YEAR = 8760.0
HOURS_PER_MONTH = HOURS_PER_YEAR / 12.0  # 730 h
PARTS = ("capex", "power", "hosting", "maintenance")
MIN_LIFE_YEARS, MAX_LIFE_YEARS = 1.0 / 12.0, 50.0
MIN_UTILISATION = 1e-3  # below 0.1 % the cost per utilised hour is meaningless (and overflows)


@dataclass(frozen=True, kw_only=True)
class TcoInputs:
    """Every parameter of the owned-server TCO; units in the names, money in ``currency``."""

    server_price: float                      # per server, in currency
    gpus_per_server: int
    gpu_tdp_w: float                         # W per GPU (nameplate)
    life_years: float                        # depreciation / financing life
    residual_fraction: float                 # of the price, recovered at end of life
    financing_rate_annual: float             # e.g. 0.035 = 3.5 %/year; 0 = paid in cash
    utilisation: float                       # fraction of wall-clock hours serving (0, 1]
    electricity_price_per_kwh: float         # currency per kWh at the meter
    pue: float                               # facility power / IT power (>= 1)
    host_overhead_w_per_server: float = 0.0  # CPUs, switches, NICs, fans at nameplate
    busy_power_fraction: float = 1.0         # average draw while serving / nameplate
    idle_power_fraction: float = 0.0         # average draw while idle / nameplate
    hosting_price_per_kw_month: float = 0.0  # currency per kW of nameplate IT power per month
    hosting_price_per_rack_month: float = 0.0  # currency per rack per month
    servers_per_rack: float = 1.0
    maintenance_fraction_per_year: float = 0.0  # of the price, per year
    currency: str = "CNY"

    def __post_init__(self) -> None:
        _check_utilisation(self.utilisation)
        _check_electricity(self.electricity_price_per_kwh)
        checks = (
            ("server_price", self.server_price >= 0, "must be >= 0"),
            ("gpus_per_server", self.gpus_per_server >= 1, "must be >= 1"),
            ("gpu_tdp_w", self.gpu_tdp_w > 0, "must be > 0 W"),
            ("life_years", MIN_LIFE_YEARS <= self.life_years <= MAX_LIFE_YEARS,
             f"(depreciation life) must be between 1 month and {MAX_LIFE_YEARS:g} years"),
            ("residual_fraction", 0 <= self.residual_fraction <= 1, "must be within 0..1"),
            ("financing_rate_annual", -0.5 < self.financing_rate_annual < 5, "must be a yearly fraction, e.g. 0.035"),
            ("pue", 1 <= self.pue <= 5, "must be within 1..5"),
            ("host_overhead_w_per_server", self.host_overhead_w_per_server >= 0, "must be >= 0 W"),
            ("busy_power_fraction", 0 < self.busy_power_fraction <= 1.5, "must be within (0, 1.5]"),
            ("idle_power_fraction", 0 <= self.idle_power_fraction <= self.busy_power_fraction,
             "must be within 0..busy_power_fraction"),
            ("hosting_price_per_kw_month", self.hosting_price_per_kw_month >= 0, "must be >= 0"),
            ("hosting_price_per_rack_month", self.hosting_price_per_rack_month >= 0, "must be >= 0"),
            ("servers_per_rack", self.servers_per_rack > 0, "must be > 0"),
            ("maintenance_fraction_per_year", 0 <= self.maintenance_fraction_per_year < 1, "must be within 0..1"),
        )
        for name, ok, why in checks:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and ok):
                raise InvalidInput(f"{name} {why}, got {value!r}", field=name)

    def with_price(self, server_price: float) -> TcoInputs:
        return replace(self, server_price=server_price)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def nameplate_w_per_server(self) -> float:
        return self.gpus_per_server * self.gpu_tdp_w + self.host_overhead_w_per_server


def _check_utilisation(u: Any) -> None:
    arr = np.asarray(u, dtype=float)
    if np.any(arr < 0):
        raise InvalidInput(f"utilisation must be a fraction within (0, 1], got {u!r} (negative)", field="utilisation")
    if not np.all(np.isfinite(arr)) or np.any(arr < MIN_UTILISATION) or np.any(arr > 1):
        raise InvalidInput(f"utilisation must be a fraction within (0, 1] (at least {MIN_UTILISATION:g}), got {u!r}",
                           field="utilisation")


def _check_electricity(e: Any) -> None:
    arr = np.asarray(e, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InvalidInput(f"electricity price must be >= 0, got {e!r}", field="electricity")


def capex_factor_per_month(*, life_years: float, residual_fraction: float, financing_rate_annual: float) -> float:
    """Monthly capex payment per unit of purchase price (annuity net of the discounted residual)."""
    n = 12.0 * life_years
    i = financing_rate_annual / 12.0
    if abs(i) < 1e-12:
        return (1.0 - residual_fraction) / n
    v_n = (1.0 + i) ** -n
    if abs(1.0 - v_n) < 1e-12:   # numerically a zero rate
        return (1.0 - residual_fraction) / n
    return (1.0 - residual_fraction * v_n) * i / (1.0 - v_n)


def price_coefficients(inp: TcoInputs, utilisation: Any = None, electricity_price_per_kwh: Any = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` with cost per *utilised* GPU-hour = ``a * server_price + b``.

    ``a`` (per unit of price) carries capex and maintenance, ``b`` power and hosting;
    both broadcast over ``utilisation`` x ``electricity_price_per_kwh`` arrays.
    """
    u = np.asarray(inp.utilisation if utilisation is None else utilisation, dtype=float)
    e = np.asarray(inp.electricity_price_per_kwh if electricity_price_per_kwh is None else electricity_price_per_kwh,
                   dtype=float)
    _check_utilisation(u)
    _check_electricity(e)
    parts = _wall_parts(inp, u, e, price=1.0)
    a = (parts["capex"] + parts["maintenance"]) / u
    b = (parts["power"] + parts["hosting"]) / u
    return np.asarray(a, dtype=float), np.asarray(b, dtype=float)


def _wall_parts(inp: TcoInputs, u: np.ndarray, e: np.ndarray, *, price: float) -> dict[str, np.ndarray]:
    """Cost per GPU wall-clock hour of each part (currency / GPU-h)."""
    g = float(inp.gpus_per_server)
    k = capex_factor_per_month(life_years=inp.life_years, residual_fraction=inp.residual_fraction,
                               financing_rate_annual=inp.financing_rate_annual)
    capex = price * k / HOURS_PER_MONTH / g
    maintenance = price * inp.maintenance_fraction_per_year / HOURS_PER_YEAR / g
    load = u * inp.busy_power_fraction + (1.0 - u) * inp.idle_power_fraction
    kwh_per_hour = inp.nameplate_w_per_server / 1000.0 * load * inp.pue
    power = kwh_per_hour * e / g
    hosting_month = (inp.nameplate_w_per_server / 1000.0 * inp.hosting_price_per_kw_month
                     + inp.hosting_price_per_rack_month / inp.servers_per_rack)
    hosting = hosting_month / HOURS_PER_MONTH / g
    shape = np.broadcast_shapes(np.shape(u), np.shape(e))
    return {name: np.broadcast_to(np.asarray(v, dtype=float), shape)
            for name, v in (("capex", capex), ("power", power), ("hosting", hosting), ("maintenance", maintenance))}


@dataclass(frozen=True, kw_only=True)
class TcoResult:
    """TCO of one server configuration (currency per GPU-hour unless named otherwise)."""

    currency: str
    per_gpu_hour_wall: float            # every wall-clock hour, busy or idle
    per_gpu_hour_utilised: float        # per hour that serves (wall / utilisation)
    breakdown_wall: dict[str, float]    # capex, power, hosting, maintenance per GPU wall-hour
    breakdown_utilised: dict[str, float]
    capex_payment_per_server_month: float
    opex_per_server_month: float        # power + hosting + maintenance
    average_power_w_per_server: float   # IT power, before PUE
    nameplate_w_per_server: float
    energy_kwh_per_server_month: float  # at the meter (after PUE)
    fixed_per_gpu_hour_wall: float      # everything except the busy-minus-idle power
    variable_per_busy_gpu_hour: float   # extra power cost of a serving hour over an idle one
    inputs: TcoInputs

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["inputs"] = self.inputs.to_dict()
        return d


def tco_per_gpu_hour(inp: TcoInputs) -> TcoResult:
    """The owned-server TCO with its breakdown (see the module docstring for formulas)."""
    u = float(inp.utilisation)
    parts = {k: float(v) for k, v in _wall_parts(inp, np.asarray(u), np.asarray(inp.electricity_price_per_kwh),
                                                 price=inp.server_price).items()}
    wall = sum(parts.values())
    g = inp.gpus_per_server
    k = capex_factor_per_month(life_years=inp.life_years, residual_fraction=inp.residual_fraction,
                               financing_rate_annual=inp.financing_rate_annual)
    load = u * inp.busy_power_fraction + (1 - u) * inp.idle_power_fraction
    avg_w = inp.nameplate_w_per_server * load
    # power cost per GPU-hour = nameplate/1000 * pue * e / g * (idle + u * (busy - idle))
    per_load = inp.nameplate_w_per_server / 1000.0 * inp.pue * inp.electricity_price_per_kwh / g
    variable = per_load * (inp.busy_power_fraction - inp.idle_power_fraction)
    return TcoResult(
        currency=inp.currency, per_gpu_hour_wall=wall, per_gpu_hour_utilised=wall / u,
        breakdown_wall=parts, breakdown_utilised={name: v / u for name, v in parts.items()},
        capex_payment_per_server_month=inp.server_price * k,
        opex_per_server_month=(parts["power"] + parts["hosting"] + parts["maintenance"]) * g * HOURS_PER_MONTH,
        average_power_w_per_server=avg_w, nameplate_w_per_server=inp.nameplate_w_per_server,
        energy_kwh_per_server_month=avg_w / 1000.0 * inp.pue * HOURS_PER_MONTH,
        fixed_per_gpu_hour_wall=wall - variable * u, variable_per_busy_gpu_hour=variable, inputs=inp)


# --- leasing -----------------------------------------------------------------------------

LEASE_UNITS = ("gpu_hour", "server_month")


def leased_per_utilised_gpu_hour(rate: Any, unit: str, *, gpus_per_server: int, utilisation: Any) -> np.ndarray:
    """Cost per utilised GPU-hour of a lease (all-inclusive: the lessor pays power and hosting).

    * ``gpu_hour`` -- pay per GPU-hour used (cloud / on-demand): the rate itself, whatever
      the utilisation (idle hours are not rented).
    * ``server_month`` -- a fixed monthly rent per server: ``rate / (730 * gpus * u)``.
    """
    _check_utilisation(utilisation)
    r, u = np.asarray(rate, dtype=float), np.asarray(utilisation, dtype=float)
    if np.any(r < 0) or not np.all(np.isfinite(r)):
        raise InvalidInput(f"lease rate must be >= 0, got {rate!r}", field="lease")
    if unit == "gpu_hour":
        return np.broadcast_to(r, np.broadcast_shapes(r.shape, u.shape)).astype(float)
    if unit == "server_month":
        return r / (HOURS_PER_MONTH * gpus_per_server * u)
    raise InvalidInput(f"lease unit {unit!r} is not one of {', '.join(LEASE_UNITS)}", field="lease_unit")


__all__ = ["HOURS_PER_MONTH", "HOURS_PER_YEAR", "LEASE_UNITS", "PARTS", "TcoInputs", "TcoResult",
           "capex_factor_per_month", "leased_per_utilised_gpu_hour", "price_coefficients", "tco_per_gpu_hour"]
