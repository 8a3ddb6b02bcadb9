"""The package layout: model/ and impl/ import only as regspec.model and regspec.impl."""

import subprocess
import sys


def test_bare_model_and_impl_names_are_never_imported():
    code = ("import sys, regspec, regspec.model, regspec.impl, regspec.cli, regspec.targets, regspec.generate;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('model', 'impl')];"
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_public_surface_is_listed():
    import regspec.model as model
    for name in model.__all__:
        assert hasattr(model, name), name
