"""Source files of the workflow's commands (declared as rule inputs)."""
import subprocess
import sys
from pathlib import Path

import pytest

from taco import code_deps

ROOT = Path(__file__).resolve().parents[1]


def test_code_dependencies_cover_every_module_a_command_loads():
    declared = set(code_deps.cli_dependencies("taco.train"))
    assert {"taco/cli.py", "taco/__main__.py", "taco/train.py", "taco/losses.py", "taco/model/__init__.py",
            "taco/model/fusion.py", "taco/data/retrieval.py"} <= declared
    assert not {"taco/reports/writer.py", "taco/data/synthetic/generate.py", "taco/features/extract.py"} & declared
    # Independent check: the package modules Python actually loads for the command are all declared.
    script = ("import sys, taco.cli, taco.train; import taco, pathlib; root = pathlib.Path(taco.__file__).parent.parent;"
              "print('\\n'.join(sorted(str(pathlib.Path(m.__file__).relative_to(root)) for m in list(sys.modules.values())"
              " if getattr(m, '__file__', None) and m.__name__.split('.')[0] == 'taco')))")
    loaded = set(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                                cwd=ROOT).stdout.split())
    assert loaded and loaded <= declared, loaded - declared
    with pytest.raises(ValueError, match="'taco.nothing'"):
        code_deps.code_dependencies("taco.nothing")
