"""Economics core: pure functions, numbers in and numbers out.

No file reads, no environment, no clock, and never an import of :mod:`suanli.perf`
(the layer rule of DESIGN.md, checked by ``tests/test_layers.py``).  The application
layer (:mod:`suanli.app.economics`) loads the sourced defaults, the FX table and the
price data, runs the performance search, and feeds plain numbers in here.

Modules (import them directly; this package imports nothing so that loading one
module never drags in the others):

* :mod:`suanli.econ.money` -- :class:`~suanli.econ.money.Money` (amount, currency, date)
  and the dated :class:`~suanli.econ.money.FxTable`; mixing currencies raises.
* :mod:`suanli.econ.tco` -- total cost of ownership per GPU-hour of a server (capex
  annuity with financing and residual value, power, hosting, maintenance).
* :mod:`suanli.econ.tokens` -- cost per million input / output / blended tokens.
* :mod:`suanli.econ.finance` -- NPV, IRR, payback, annuities, lessor cash flows, lease
  rate for a target IRR, buy-vs-lease break-even.
* :mod:`suanli.econ.fairvalue` -- the price of option X at which its cost per token
  equals option Y's, with a vectorised utilisation x electricity sensitivity grid.
* :mod:`suanli.econ.dealer`, :mod:`suanli.econ.scenarios` -- a dealer's stock plan.

Units: money amounts are in the currency named next to them (one currency per
computation -- the app converts first); power in W, energy in kWh, time in hours or
months (``HOURS_PER_MONTH`` = 8760 / 12 = 730 h), rates as fractions per year unless
the name says ``per_month``.
"""
