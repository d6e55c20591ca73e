"""INT8 calibration for TensorRT 8.5-10.x: images from a folder, pre-processed exactly as at inference.

`CalibrationBatches` (pure Python) turns a folder into fixed-size NCHW batches with the
Predictor's pre-processing; `make_entropy_calibrator` wraps it in TensorRT's
`IInt8EntropyCalibrator2`, feeding batches through a torch CUDA tensor (no pycuda) and
persisting the calibration table so a rebuild skips the images.

The table on disk is keyed (`calibration_key`: ONNX hash + image-set fingerprint + input size +
batch size): a table made for another ONNX file or other images is never fed back to TensorRT, the
images are calibrated again. TensorRT 11 has no calibrators (explicit quantization only, see
`tensorrt_versions`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from centerpose_core.atomic_write import atomic_write_bytes
from centerpose_core.image_io import IMAGE_SUFFIXES

LOG = logging.getLogger(__name__)
CACHE_MAGIC = b"CENTERPOSE-CALIB\n"
CALIBRATOR = "IInt8EntropyCalibrator2"


def list_calibration_images(folder: str | Path, limit: int | None = None) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"calibration folder not found: {folder}")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ValueError(f"calibration folder {folder} has no images ({', '.join(IMAGE_SUFFIXES)})")
    return paths[:limit] if limit else paths


class CalibrationBatches:
    """Fixed-size batches of pre-processed images; the last partial batch is dropped.

    TensorRT's calibrator must fill every batch completely, so N images give N // batch_size
    batches. Fewer images than one batch is an error naming the folder.
    """

    def __init__(
        self, folder: str | Path, input_size: int, batch_size: int = 8, limit: int | None = None
    ) -> None:
        if batch_size <= 0:
            raise ValueError(f"calibration batch size must be positive, got {batch_size}")
        self.folder = Path(folder)
        self.paths = list_calibration_images(folder, limit)
        self.input_size = input_size
        self.batch_size = batch_size
        if len(self.paths) < batch_size:
            raise ValueError(
                f"calibration folder {self.folder} has {len(self.paths)} images, fewer than one batch of "
                f"{batch_size}"
            )

    def __len__(self) -> int:
        return len(self.paths) // self.batch_size

    @property
    def used_images(self) -> list[Path]:
        return self.paths[: len(self) * self.batch_size]

    def fingerprint(self) -> str:
        """Hash of the folder's images (names and contents), the input size and the pre-processing
        constants: part of the INT8 engine key and of the calibration table's key."""
        from centerpose_core.constants import MEAN_BGR, STD_BGR

        digest = hashlib.sha256(f"{self.input_size}|{list(MEAN_BGR)}|{list(STD_BGR)}|".encode())
        for path in self.paths:
            digest.update(path.name.encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()

    def __iter__(self) -> Iterator[np.ndarray]:
        import cv2

        from centerpose_core.affine import preprocess

        size = self.input_size
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            batch = np.empty((self.batch_size, 3, size, size), dtype=np.float32)
            for row, path in enumerate(self.paths[start : start + self.batch_size]):
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is None:
                    raise ValueError(f"calibration image {path} cannot be read")
                preprocess(image, size, out=batch[row])
            yield batch


def calibration_key(onnx_sha256: str, data_fingerprint: str, batch_size: int) -> str:
    """What a calibration table depends on: the network, the images and their pre-processing, the
    batch size (it decides which images are used) and the calibrator."""
    text = f"{onnx_sha256}|{data_fingerprint}|{batch_size}|{CALIBRATOR}"
    return hashlib.sha256(text.encode()).hexdigest()


class StaleCalibrationError(ValueError):
    """A calibration table made for another ONNX file, and no images to calibrate again."""


class CalibrationCacheFile:
    """The calibration table on disk (TensorRT's opaque bytes) behind a one-line JSON header.

    The header holds the table's key (`calibration_key`) and the ONNX file's hash. `read` gives
    TensorRT the table only when the key matches `expected_key`; otherwise it returns None, so
    TensorRT calibrates again and `write` replaces the file. Without images (`expected_key` None)
    the table is all there is: `check_usable` then refuses one made for another ONNX file, and a
    raw table without our header (e.g. from trtexec) is taken as the user's word.
    """

    def __init__(
        self, path: str | Path | None, expected_key: str | None = None, *, onnx_sha256: str = ""
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.expected_key = expected_key
        self.onnx_sha256 = onnx_sha256

    def _split(self) -> tuple[dict | None, bytes] | None:
        """(header or None for a raw table, table bytes), or None when there is no file."""
        if self.path is None or not self.path.is_file():
            return None
        data = self.path.read_bytes()
        if not data.startswith(CACHE_MAGIC):
            return None, data
        header, _, table = data[len(CACHE_MAGIC) :].partition(b"\n")
        try:
            parsed = json.loads(header)
            if not isinstance(parsed, dict):
                raise ValueError("not an object")
        except ValueError:
            return {"key": "<corrupt header>"}, b""
        return parsed, table

    def read(self) -> bytes | None:
        found = self._split()
        if found is None or not found[1]:
            return None
        header, table = found
        if self.expected_key is None:  # table-only build: checked by check_usable
            return table
        if header is None:
            LOG.warning("%s: calibration table without a key; calibrating again", self.path)
            return None
        if header.get("key") != self.expected_key:
            LOG.warning(
                "%s: calibration table of another ONNX file or image set; calibrating again", self.path
            )
            return None
        return table

    def check_usable(self) -> None:
        """Without images to calibrate from, the table must exist and belong to this ONNX file."""
        found = self._split()
        if found is None or not found[1]:
            raise FileNotFoundError(f"calibration table not found or empty: {self.path}")
        header = found[0]
        if header is not None and self.onnx_sha256 and header.get("onnx_sha256") != self.onnx_sha256:
            raise StaleCalibrationError(
                f"{self.path}: calibration table made for another ONNX file; give the calibration "
                "images (--calib-dir) to calibrate again"
            )

    def write(self, data: bytes) -> None:
        if self.path is not None:
            header = json.dumps({"key": self.expected_key or "", "onnx_sha256": self.onnx_sha256}).encode()
            atomic_write_bytes(self.path, CACHE_MAGIC + header + b"\n" + bytes(data))


def device_buffer(shape: tuple[int, ...], device: str):
    """The float32 buffer TensorRT reads calibration batches from, on the GPU being built for."""
    import torch

    return torch.empty(shape, dtype=torch.float32, device=device)


def make_entropy_calibrator(batches, cache: CalibrationCacheFile, device: str = "cuda", trt=None):
    """A `trt.IInt8EntropyCalibrator2` over `batches` (needs TensorRT and a CUDA GPU).

    `batches`: `CalibrationBatches`, or an empty iterable with `input_size`/`batch_size` when only
    a table is given. Callbacks as in TensorRT's Python API (IInt8EntropyCalibrator2: get_batch_size,
    get_batch(names) -> [device pointer] or None, read/write_calibration_cache)."""
    import torch

    if trt is None:
        import tensorrt as trt

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            super().__init__()
            self._batches = iter(batches)
            self._cache = cache
            self.batches_served = 0
            size = batches.input_size
            self._device_batch = device_buffer((batches.batch_size, 3, size, size), device)

        def get_batch_size(self) -> int:
            return batches.batch_size

        def get_batch(self, names):  # one input: `names` is [input name]
            batch = next(self._batches, None)
            if batch is None:
                return None
            self._device_batch.copy_(torch.from_numpy(batch))
            if self._device_batch.is_cuda:
                torch.cuda.synchronize(self._device_batch.device)
            self.batches_served += 1
            return [int(self._device_batch.data_ptr())]

        def read_calibration_cache(self):
            return self._cache.read()

        def write_calibration_cache(self, cache) -> None:
            self._cache.write(bytes(cache))

    return EntropyCalibrator()
