"""The TensorRT release table: versions read, DCN form per release, unsupported releases named (issue 11)."""

from __future__ import annotations

import pytest

from centerpose_core.export.tensorrt.versions import (
    UnsupportedTensorRTError,
    check_supported,
    dcn_form_for,
    parse_version,
)


@pytest.mark.parametrize(
    ("version", "parsed", "form"),
    [
        ("8.5.2.2", (8, 5), "decomposed"),  # JetPack 5.1
        ("8.6.2", (8, 6), "decomposed"),  # JetPack 6.0
        ("10.0.1.6", (10, 0), "decomposed"),  # parser without DeformConv
        ("10.1.0", (10, 1), "native"),
        ("10.3.0.30", (10, 3), "native"),  # JetPack 6.1 / 6.2
        ("11.4.0.106", (11, 4), "native"),
    ],
)
def test_release_table(version, parsed, form):
    assert parse_version(version) == parsed == check_supported(version)
    assert dcn_form_for(version) == form


@pytest.mark.parametrize("version", ["8.4.3", "7.1.3", "12.0.0"])
def test_releases_outside_the_table_are_named(version):
    with pytest.raises(
        UnsupportedTensorRTError, match=rf"^TensorRT {version} is not supported; supported: TensorRT 8\.5"
    ):
        check_supported(version)


def test_unreadable_version_string():
    with pytest.raises(ValueError, match="cannot read a TensorRT version from 'dev'"):
        parse_version("dev")
