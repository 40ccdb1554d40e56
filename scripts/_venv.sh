# Sourced by run-main.sh and test.sh: create .venv (or $SUANLI_VENV) on first use and
# install this checkout with the extras given as the first argument.
VENV=${SUANLI_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[$1]"
