"""The ci_cache family's reading of tar's output (scenarios/test_ci_cache.py): which module trees a restore could
not write over, from GNU tar's own lines."""
from types import SimpleNamespace

from scenarios.test_ci_cache import collisions, tar_says

TAR = """tar: ../go/pkg/mod/golang.org/toolchain@v0.0.1-go1.27.99.linux-amd64/src/go.mod: Cannot open: File exists
tar: ../go/pkg/mod/golang.org/toolchain@v0.0.1-go1.27.99.linux-amd64/bin/go: Cannot open: File exists
tar: ../go/pkg/mod/example.com/lib@v1.0.0/lib.go: Cannot open: Permission denied
tar: ../go/pkg/mod/example.com/!upper@v1.0.0/a/b.go: Cannot open: File exists
tar: ../go/pkg/mod/cache/download/example.com/lib/@v/v1.0.0.zip: Cannot open: File exists
tar: Exiting with failure status due to previous errors
"""


def test_collisions_by_module_tree():
    assert collisions(SimpleNamespace(stderr=TAR)) == {
        "golang.org/toolchain@v0.0.1-go1.27.99.linux-amd64": 2,
        "example.com/lib@v1.0.0 (Permission denied)": 1,
        "example.com/!upper@v1.0.0": 1,
    }


def test_tar_says_its_first_line():
    assert tar_says(SimpleNamespace(stderr="\n" + TAR)).endswith("src/go.mod: Cannot open: File exists")
    assert tar_says(SimpleNamespace(stderr="")) is None
