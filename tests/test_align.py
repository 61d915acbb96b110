"""--align / --train-align: every image (real and fake) re-encoded or resized the same way."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import gibench
from gibench.data.align import Alignment, compose, label, parse_align
from gibench.errors import GibenchError


def _photo(w=120, h=90):
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


def test_parse_defaults_ranges_and_errors():
    assert parse_align("jpeg") == Alignment("jpeg", 96)
    assert parse_align("SIZE:224") == Alignment("size", 224)
    assert label([parse_align("size:64"), parse_align("jpeg:90")]) == "size:64+jpeg:90"
    assert label([]) == "none" and compose([]) is None
    for bad in ("png", "jpeg:0", "jpeg:x", "size:4"):
        with pytest.raises(GibenchError, match="align='"):
            parse_align(bad)


def test_jpeg_alignment_is_the_libjpeg_round_trip():
    img = _photo()
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=70, subsampling=2)
    expected = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    np.testing.assert_array_equal(np.asarray(parse_align("jpeg:70")(img)), expected)


@pytest.mark.parametrize("size", [(120, 90), (90, 120), (40, 30)])
def test_size_alignment_gives_one_square_size_whatever_the_input(size):
    out = parse_align("size:64")(_photo(*size))
    assert out.size == (64, 64)


def test_aligned_run_records_the_alignment_and_changes_only_what_it_should(
        toy_plugin, toy_root, tmp_path):
    opts = dict(data_root=toy_root, dataset="toy", train_subset="toy-a", device="cpu",
                workers=0, progress=False, epochs=2)
    plain = gibench.run("tinynet", "cross-generator", out=tmp_path / "plain", **opts)
    aligned = gibench.run("tinynet", "cross-generator", out=tmp_path / "aligned",
                          align=["jpeg:30"], **opts)
    assert set(plain["align"]) == {"none"} and set(aligned["align"]) == {"jpeg:30"}
    record = json.loads((tmp_path / "aligned" / "run.json").read_text())
    assert record["resolved"]["align"] == ["jpeg:30"]
    # same training (no --train-align): the same weights; JPEG 30 changes the test scores
    a = pd.read_csv(tmp_path / "plain" / "scores.csv")
    b = pd.read_csv(tmp_path / "aligned" / "scores.csv")
    assert (tmp_path / "plain/train/toy-a/model.pt").read_bytes() == \
        (tmp_path / "aligned/train/toy-a/model.pt").read_bytes()
    assert not np.allclose(a["logit"], b["logit"])
    with pytest.raises(GibenchError, match="align='"):
        gibench.run("tinynet", "cross-generator", out=tmp_path / "bad", align=["gif"], **opts)
