"""The warm-kernel engine: notebooks really executed, valid papermill outputs, and no state carried over."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import nbformat
import papermill
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from papermill.exceptions import PapermillExecutionError

from cyberbudget.reports.kernels import ENGINE_NAME, KernelPool, WarmKernel

pytestmark = pytest.mark.slow  # every test starts or uses a kernel


def make_notebook(path: Path, *cells: str, parameters: str = "x = 1  # a parameter") -> Path:
    """Write a notebook whose first cell is tagged ``parameters`` and whose other cells are ``cells``."""
    nb = new_notebook()
    first = new_code_cell(parameters)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [new_markdown_cell("# test"), first, *(new_code_cell(c) for c in cells)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def stream_text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o["output_type"] == "stream")


def public_names_cell() -> str:
    return (
        "print(sorted(n for n in globals() if not n.startswith('_') "
        "and n not in ('In', 'Out', 'exit', 'quit', 'get_ipython', 'open')))"
    )


@pytest.fixture(scope="module")
def kernel():
    with WarmKernel(preload=("pandas", "plotly.graph_objects", "cyberbudget")) as k:
        yield k


def test_outputs_come_from_running_the_cells_with_the_injected_parameters(kernel, tmp_path):
    nb_path = make_notebook(tmp_path / "t.ipynb", "y = x * 7\nprint('y =', y)", "y + 1")
    out = tmp_path / "out.ipynb"

    nb = kernel.execute(nb_path, out, parameters={"x": 6})

    assert stream_text(nb.cells[3]) == "y = 42\n"
    assert nb.cells[4].outputs[0]["data"]["text/plain"] == "43"
    # a genuine papermill output: the injected cell, the recorded parameters, written to disk
    assert nb.cells[2].metadata.tags == ["injected-parameters"]
    assert "x = 6" in nb.cells[2].source
    assert nb.metadata.papermill.parameters == {"x": 6}
    assert not nb.metadata.papermill.exception
    on_disk = nbformat.read(str(out), as_version=4)
    assert stream_text(on_disk.cells[3]) == "y = 42\n"


def test_cells_are_numbered_from_one_on_every_run_like_in_a_fresh_kernel(kernel, tmp_path):
    nb_path = make_notebook(tmp_path / "t.ipynb", "a = 1", "a + 1")
    for x in (1, 2):
        nb = kernel.execute(nb_path, parameters={"x": x})
        counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
        assert counts == [1, 2, 3, 4]


def test_each_run_starts_from_an_empty_namespace(kernel, tmp_path):
    polluter = make_notebook(
        tmp_path / "a.ipynb",
        "import pandas as pd\nleak = 'secret'\ndef helper():\n    return 1",
        "import builtins\n_private = 3",
    )
    reader = make_notebook(tmp_path / "b.ipynb", public_names_cell(), parameters="z = 0")

    fresh = papermill.execute_notebook(str(reader), None, parameters={"z": 1}, progress_bar=False)

    kernel.execute(polluter, parameters={"x": 5})
    nb = kernel.execute(reader, parameters={"z": 1})

    # `x`, `pd`, `leak`, `helper` are gone: the names are those of a fresh kernel after the two first cells
    assert stream_text(nb.cells[3]) == stream_text(fresh.cells[3])
    assert "'z'" in stream_text(nb.cells[3]) and "leak" not in stream_text(nb.cells[3])


def test_a_notebook_that_forgets_an_import_fails_as_in_a_fresh_kernel(kernel, tmp_path):
    importer = make_notebook(tmp_path / "a.ipynb", "import pandas as pd")
    forgetful = make_notebook(tmp_path / "b.ipynb", "pd.DataFrame()")
    kernel.execute(importer)

    with pytest.raises(PapermillExecutionError) as info:
        kernel.execute(forgetful)

    assert info.value.ename == "NameError"


def test_reset_reports_an_empty_namespace(kernel, tmp_path):
    kernel.run_code("leftover = 1\nimport os")
    assert kernel.reset(tmp_path) == []


def test_a_failing_cell_gives_its_index_and_error_and_keeps_the_executed_notebook(kernel, tmp_path):
    nb_path = make_notebook(tmp_path / "t.ipynb", "print('first')", "raise ValueError('boom')", "print('never')")
    out = tmp_path / "out.ipynb"

    with pytest.raises(PapermillExecutionError) as info:
        kernel.execute(nb_path, out, parameters={"x": 2})

    assert info.value.cell_index == 4
    assert (info.value.ename, info.value.evalue) == ("ValueError", "boom")
    kept = nbformat.read(str(out), as_version=4)
    assert stream_text(kept.cells[4]) == "first\n"
    assert kept.cells[6].outputs[0]["ename"] == "ValueError"
    assert kept.cells[7].get("outputs") == []
    assert kept.metadata.papermill.exception is True
    # the kernel is still usable and clean
    nb = kernel.execute(make_notebook(tmp_path / "n.ipynb", public_names_cell()), parameters={"x": 3})
    assert stream_text(nb.cells[3]) == "['x']\n"


def test_the_kernel_runs_in_the_requested_folder(kernel, tmp_path):
    nb_path = make_notebook(tmp_path / "t.ipynb", "import os\nprint(os.getcwd())")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    nb = kernel.execute(nb_path, parameters={"x": 0}, cwd=elsewhere)
    assert stream_text(nb.cells[3]) == f"{elsewhere.resolve()}\n"
    assert Path.cwd() != elsewhere  # this process did not move


def test_the_previous_notebooks_folder_may_disappear(kernel, tmp_path):
    nb_path = make_notebook(tmp_path / "t.ipynb", "import os\nprint(os.getcwd())")
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    kernel.execute(nb_path, parameters={"x": 0}, cwd=first)
    first.rmdir()  # a report's temporary folder is renamed or removed once its notebook has run
    nb = kernel.execute(nb_path, parameters={"x": 0}, cwd=second)
    assert stream_text(nb.cells[3]) == f"{second.resolve()}\n"


def test_plotly_settings_changed_by_a_notebook_do_not_reach_the_next(kernel, tmp_path):
    figure = "import plotly.graph_objects as go\ngo.Figure(go.Bar(x=['a'], y=[1])).show()"
    changer = make_notebook(
        tmp_path / "a.ipynb",
        "import plotly.io as pio\npio.renderers.default = 'json'\npio.templates.default = 'none'",
    )
    shower = make_notebook(
        tmp_path / "b.ipynb", figure, "import plotly.io as pio\nprint(pio.renderers.default, pio.templates.default)"
    )

    first = kernel.execute(shower, parameters={"x": 0})
    kernel.execute(changer, parameters={"x": 0})
    second = kernel.execute(shower, parameters={"x": 0})

    assert stream_text(second.cells[4]) == stream_text(first.cells[4])
    assert [sorted(o.get("data", {})) for o in second.cells[3].outputs] == [
        sorted(o.get("data", {})) for o in first.cells[3].outputs
    ]


def test_a_dead_kernel_is_restarted_for_the_next_notebook(tmp_path):
    killer = make_notebook(tmp_path / "k.ipynb", "import os\nos._exit(1)")
    fine = make_notebook(tmp_path / "f.ipynb", "print(x + 1)")
    with WarmKernel(preload=()) as kernel:
        with pytest.raises(Exception):  # noqa: B017 - nbclient raises DeadKernelError or a RuntimeError
            kernel.execute(killer)
        nb = kernel.execute(fine, parameters={"x": 1})
        assert stream_text(nb.cells[3]) == "2\n"
        assert kernel.starts == 2


def test_same_outputs_as_papermill_in_a_fresh_kernel(kernel, tmp_path):
    nb_path = make_notebook(
        tmp_path / "t.ipynb",
        "import pandas as pd\ndf = pd.DataFrame({'a': [x, 2 * x]})\nprint(df.a.sum())",
        "df.a.tolist()",
    )
    fresh = papermill.execute_notebook(str(nb_path), None, parameters={"x": 4}, progress_bar=False)
    warm = kernel.execute(nb_path, parameters={"x": 4})

    def essentials(nb):
        return [
            (c.get("execution_count"), [(o["output_type"], o.get("text"), o.get("data")) for o in c.get("outputs", [])])
            for c in nb.cells
        ]

    assert essentials(warm) == essentials(fresh)
    assert warm.metadata.papermill.parameters == fresh.metadata.papermill.parameters


def test_the_engine_is_registered_with_papermill(kernel, tmp_path):
    nb_path = make_notebook(tmp_path / "t.ipynb", "print(x)")
    nb = papermill.execute_notebook(
        str(nb_path), None, parameters={"x": 9}, engine_name=ENGINE_NAME, warm_kernel=kernel, progress_bar=False
    )
    assert stream_text(nb.cells[3]) == "9\n"
    assert nb.metadata.papermill.parameters == {"x": 9}


def test_a_pool_gives_each_thread_its_own_kernel_and_reuses_it(tmp_path):
    nb_path = make_notebook(tmp_path / "t.ipynb", "import os\nprint(os.getpid())")
    pids: dict[str, list[str]] = {}

    def work(name: str) -> None:
        for x in range(2):
            nb = pool.get().execute(nb_path, parameters={"x": x})
            pids.setdefault(name, []).append(stream_text(nb.cells[3]))

    with KernelPool(preload=()) as pool:
        threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        kernels = pool.kernels
        assert len(kernels) == 2
        assert all(k.runs == 2 for k in kernels)
    assert all(k.km is None for k in kernels)  # shut down with the pool
    assert len(set(pids["a"])) == 1 and len(set(pids["b"])) == 1
    assert pids["a"][0] != pids["b"][0] != str(os.getpid())
