"""INT8 calibration for TensorRT: images from a folder, pre-processed exactly as at inference.

`CalibrationBatches` (pure Python) turns a folder into fixed-size NCHW batches with the
Predictor's pre-processing; `make_entropy_calibrator` wraps it in TensorRT's
`IInt8EntropyCalibrator2`, feeding batches through a torch CUDA tensor (no pycuda) and
persisting the calibration table so a rebuild skips the images.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from centerpose_core.atomic_write import atomic_write_bytes
from centerpose_core.image_io import IMAGE_SUFFIXES


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
        """Hash of the folder's images and the input size: part of the INT8 engine key."""
        digest = hashlib.sha256(f"{self.input_size}|".encode())
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


class CalibrationCacheFile:
    """The calibration table on disk (TensorRT's opaque bytes), read back on later builds."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None

    def read(self) -> bytes | None:
        if self.path is None or not self.path.is_file():
            return None
        data = self.path.read_bytes()
        return data or None

    def write(self, data: bytes) -> None:
        if self.path is not None:
            atomic_write_bytes(self.path, bytes(data))


def make_entropy_calibrator(batches: CalibrationBatches, cache_file: str | Path | None, device: str = "cuda"):
    """A `trt.IInt8EntropyCalibrator2` over `batches` (needs TensorRT and a CUDA GPU)."""
    import tensorrt as trt
    import torch

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            super().__init__()
            self._batches = iter(batches)
            self._cache = CalibrationCacheFile(cache_file)
            size = batches.input_size
            self._device_batch = torch.empty(
                (batches.batch_size, 3, size, size), dtype=torch.float32, device=device
            )

        def get_batch_size(self) -> int:
            return batches.batch_size

        def get_batch(self, names):  # one input: `names` is [input name]
            batch = next(self._batches, None)
            if batch is None:
                return None
            self._device_batch.copy_(torch.from_numpy(batch))
            torch.cuda.synchronize(self._device_batch.device)
            return [int(self._device_batch.data_ptr())]

        def read_calibration_cache(self):
            return self._cache.read()

        def write_calibration_cache(self, cache) -> None:
            self._cache.write(bytes(cache))

    return EntropyCalibrator()
