"""Predictor: image(s) in, persons out, on any backend.

Stages (each timed, see `last_timings`): pre-process (warp + normalise on the CPU), forward
(the backend), decode (shared torch code on the backend's device), post-process (inverse warp),
and for a model with the mask branch `masks` (the kept persons' dynamic convolutions on the
backend's device, then the inverse warp of each mask; `total` includes it).
The network input is a square (the original's), a fixed rectangle or one fitted to each image's
aspect (`input_shape.InputShape`); images of a batch that need different inputs run as groups.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from centerpose_core.affine import WarpMeta, preprocess
from centerpose_core.constants import DEFAULT_INPUT_SIZE, DEFAULT_MASK_THRESHOLD, DEFAULT_TOP_K, DOWN_RATIO
from centerpose_core.decode import activate, decode_multi_pose
from centerpose_core.devices import AUTO_DEVICE
from centerpose_core.flip import fill_mirrored_half, merge_flip
from centerpose_core.image_io import as_bgr
from centerpose_core.input_shape import InputShape, InputSize
from centerpose_core.masks import (
    boxed_mask_patches,
    has_mask_maps,
    map_region,
    mask_patches,
    mask_probabilities,
    with_masks,
)
from centerpose_core.model_formats import ONNX, TENSORRT_ENGINE, model_format, native_backend
from centerpose_core.runtime.backends import Backend, make_backend
from centerpose_core.runtime.postprocess import to_persons
from centerpose_core.runtime.precision import AUTO_PRECISION
from centerpose_core.types import Person


@contextmanager
def _single_cpu_thread(device: torch.device) -> Iterator[None]:
    """Decode's tensors are small: on the CPU, intra-op threading costs more than it saves.

    Measured here (128x128 maps, K=100, other core busy): 68 ms with 2 threads, 12-20 ms with 1.
    """
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class Predictor:
    """Multi-person pose estimation with CenterNet semantics (see DESIGN.md, inference).

    Not thread-safe: one Predictor per worker thread (it reuses its input buffer between calls).

    Args:
        model: an `nn.Module` (a `PoseNet`), or a path to a checkpoint (.pth) or, with a backend
            that runs it, an exported model file (see `model_formats.BACKENDS`).
        backend: one of `model_formats.BACKEND_NAMES` (`auto`, `tensorrt`, `onnxruntime`, `torch`,
            `torch2trt`, `openvino`).
        precision: `auto` (default), `fp32`, `bf16`, `fp16` or `int8`: the arithmetic the backend
            runs. `auto` is the fastest one whose accuracy cost is known (`runtime.precision`, the
            README's rule table): e.g. OpenVINO bf16 on a CPU with native bf16, TensorRT fp16 on a
            GPU, an INT8 file only with a passing recorded accuracy check. A precision the backend
            or the machine cannot run is a `PrecisionError` saying what can; nothing falls back.
            `predictor.precision` and `describe()` say what runs.
        device: torch device for the torch backend and for decoding (e.g. `cpu`, `cuda:0`, or
            `auto`: the GPU when there is one).
        input_size: side of the square network input (a multiple of 32; 512 as the original), or
            (width, height) of a rectangular one (e.g. (512, 384) for a 4:3 camera; also "512x384").
        fit_aspect: fit the input to each image's aspect instead, the longer side `input_size` and
            the other rounded up to a multiple of 32 (`input_shape.fitted_input_shape`): no compute
            spent on letterbox padding. Runs on the torch, onnxruntime and openvino backends.
        flip_test: average with the mirrored image's outputs, as CenterNet's `--flip_test`.
        top_k: number of person candidates decoded per image (CenterNet's K=100).
        mask_threshold: probability above which a pixel belongs to a person's mask (models with
            the mask branch; with the flip test masks come from the unflipped pass).
        masks_in_box: cut each person's mask to its own box (default), computing it only there;
            False: the seed's rule, the whole map (masks may reach far outside the person; see
            `masks.boxed_mask_patches` for why the cut is the default).
        backend_options: the backend's own options (e.g. `num_threads` for onnxruntime,
            `workspace_gib` for tensorrt); an option the backend does not take is a TypeError that
            names it and the valid ones.

    `Predictor.from_file(path)` picks the backend and the input size from the file itself.
    """

    def __init__(
        self,
        model: str | Path | nn.Module,
        *,
        backend: str = "torch",
        device: str = "cpu",
        precision: str = AUTO_PRECISION,
        input_size: InputSize | str = DEFAULT_INPUT_SIZE,
        fit_aspect: bool = False,
        flip_test: bool = False,
        top_k: int = DEFAULT_TOP_K,
        mask_threshold: float = DEFAULT_MASK_THRESHOLD,
        masks_in_box: bool = True,
        **backend_options,
    ) -> None:
        self.input_shape = InputShape.of(input_size, fit_aspect)
        if top_k <= 0:
            raise ValueError(f"top_k must be positive, got {top_k}")
        if not 0.0 <= mask_threshold < 1.0:
            raise ValueError(f"mask_threshold must be in [0, 1), got {mask_threshold}")
        self.flip_test = flip_test
        self.top_k = top_k
        self.mask_threshold = mask_threshold
        self.masks_in_box = masks_in_box
        self.backend: Backend = make_backend(
            model,
            backend=backend,
            device=device,
            input_size=self.input_shape.fixed_square or self.input_shape,
            precision=precision,
            **backend_options,
        )
        self.last_timings: dict[str, float] = {}
        self._input_buffer: np.ndarray | None = None  # reused between calls of the same batch size

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        backend: str | None = None,
        device: str = AUTO_DEVICE,
        precision: str = AUTO_PRECISION,
        input_size: InputSize | str | None = None,
        fit_aspect: bool = False,
        flip_test: bool = False,
        top_k: int = DEFAULT_TOP_K,
        mask_threshold: float = DEFAULT_MASK_THRESHOLD,
        masks_in_box: bool = True,
        **backend_options,
    ) -> Predictor:
        """A Predictor for a model file, with defaults read from the file.

        backend: by default the one that runs the file's format as it is (checkpoint: torch,
            .onnx: onnxruntime, engine: tensorrt, .trtm: torch2trt).
        device: by default the GPU when torch sees one, else the CPU.
        input_size: by default the size an ONNX file (or an engine written by `centerpose export`)
            was built for; 512 for a checkpoint.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: model file not found")
        fmt = model_format(path)
        if input_size is None:
            input_size = _built_input_size(path, fmt) or DEFAULT_INPUT_SIZE
        return cls(
            path,
            backend=backend or native_backend(fmt),
            device=device,
            precision=precision,
            input_size=input_size,
            fit_aspect=fit_aspect,
            flip_test=flip_test,
            top_k=top_k,
            mask_threshold=mask_threshold,
            masks_in_box=masks_in_box,
            **backend_options,
        )

    @property
    def precision(self) -> str:
        """The arithmetic actually running: fp32, bf16, fp16 or int8."""
        return self.backend.precision

    def describe(self) -> str:
        """What runs, for logs and reports: e.g. "openvino bf16"."""
        return f"{self.backend.name} {self.precision}"

    @property
    def input_size(self) -> InputSize:
        """The input size as given: a side (the longer one when fitted), or (width, height)."""
        shape = self.input_shape
        return shape.long_side if shape.fit_aspect or shape.fixed_square else (shape.width, shape.height)

    @property
    def has_masks(self) -> bool:
        """Whether the model has the mask branch (its persons can carry masks)."""
        return bool(getattr(self.backend, "has_masks", False))

    @property
    def output_size(self) -> int:
        """Side of the square output map (a square input only; see `input_shape` otherwise)."""
        if self.input_shape.fixed_square is None:
            raise ValueError(f"the input is {self.input_shape.describe()}, not a square")
        return self.input_shape.fixed_square // DOWN_RATIO

    def predict(
        self,
        image_bgr: np.ndarray,
        *,
        threshold: float = 0.0,
        max_persons: int | None = None,
        masks: bool | None = None,
    ) -> list[Person]:
        """Persons in one BGR (or gray / BGRA) uint8 image, highest score first (`masks`: as in
        `predict_batch`)."""
        return self.predict_batch([image_bgr], threshold=threshold, max_persons=max_persons, masks=masks)[0]

    def predict_batch(
        self,
        images_bgr: Sequence[np.ndarray],
        *,
        threshold: float = 0.0,
        max_persons: int | None = None,
        masks: bool | None = None,
    ) -> list[list[Person]]:
        """Persons for each image of a batch (images may differ in size and aspect).

        Images that need different network inputs (fit_aspect) run as one group per input shape.
        masks: compute the kept persons' masks (`Person.mask`) for this call: None (default) when
            the model has the mask branch, False never (no `masks` stage: e.g. while nobody
            consumes them), True always (a ValueError for a model without the branch).
        """
        if masks and not self.has_masks:
            raise ValueError("masks=True: this model has no mask branch (no seg_feat / seg heads)")
        if len(images_bgr) == 0:
            return []
        start = time.perf_counter()
        images = [as_bgr(image, name=f"image {i}") for i, image in enumerate(images_bgr)]
        groups = self._group_by_input(images)
        results: list[list[Person]] = [[] for _ in images]
        timings = dict.fromkeys(("preprocess", "forward", "decode", "postprocess"), 0.0)
        t0 = start
        for shape, indices in groups.items():
            batch, metas = self._prepare([images[i] for i in indices], shape)
            t1 = time.perf_counter()
            raw = self.backend(batch)
            self._sync()
            t2 = time.perf_counter()
            with _single_cpu_thread(self.backend.device):
                maps = self._activate(raw)
                decoded = decode_multi_pose(maps, k=self.top_k)
            self._sync()
            t3 = time.perf_counter()
            persons = to_persons(decoded, metas, threshold=threshold, max_persons=max_persons)
            t4 = time.perf_counter()
            if masks is not False and has_mask_maps(maps):
                group_images = [images[i] for i in indices]
                persons = self._with_masks(persons, maps, decoded["inds"], metas, group_images)
                timings["masks"] = timings.get("masks", 0.0) + (time.perf_counter() - t4) * 1e3
            for index, found in zip(indices, persons):
                results[index] = found
            for stage, (a, b) in zip(timings, ((t0, t1), (t1, t2), (t2, t3), (t3, t4))):
                timings[stage] += (b - a) * 1e3
            t0 = time.perf_counter()
        self.last_timings = {**timings, "total": (time.perf_counter() - start) * 1e3}
        return results

    def decode(self, raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Raw head logits (doubled batch when flip-testing) -> sorted candidates in map pixels."""
        with _single_cpu_thread(self.backend.device):
            return decode_multi_pose(self._activate(raw), k=self.top_k)

    def _with_masks(
        self,
        persons: list[list[Person]],
        maps: dict[str, torch.Tensor],
        inds: torch.Tensor,
        metas: list[WarpMeta],
        images: Sequence[np.ndarray],
    ) -> list[list[Person]]:
        """The kept persons (a prefix of the sorted candidates) with their masks in source pixels."""
        to_image = [meta.output_to_image() for meta in metas]
        with _single_cpu_thread(self.backend.device):
            patches = _mask_patches(
                persons, maps, inds, to_image, images, self.mask_threshold, self.masks_in_box
            )
        return [
            with_masks(found, mine, image.shape[:2]) for found, mine, image in zip(persons, patches, images)
        ]

    def head_maps(self, images_bgr: Sequence[np.ndarray]) -> dict[str, torch.Tensor]:
        """The activated head maps that decode reads for these images (flip-merged when flip
        testing), to inspect a model or to check how close its outputs are to decode's decisions.
        The images must share one network input shape."""
        images = [as_bgr(image, name=f"image {i}") for i, image in enumerate(images_bgr)]
        groups = self._group_by_input(images)
        if len(groups) != 1:
            raise ValueError(f"head_maps needs images of one input shape, these need {sorted(groups)}")
        batch, _ = self._prepare(images, next(iter(groups)))
        return self._activate(self.backend(batch))

    def _activate(self, raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        maps = activate(raw)
        return merge_flip(maps) if self.flip_test else maps

    def _group_by_input(self, images: Sequence[np.ndarray]) -> dict[tuple[int, int], list[int]]:
        """Indices of the images per network input (width, height), in first-seen order."""
        groups: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(images):
            groups.setdefault(self.input_shape.for_image(*image.shape[:2]), []).append(i)
        return groups

    def _prepare(
        self, images: Sequence[np.ndarray], input_wh: tuple[int, int]
    ) -> tuple[np.ndarray, list[WarpMeta]]:
        n = len(images)
        width, height = input_wh
        shape = (2 * n if self.flip_test else n, 3, height, width)
        if self._input_buffer is None or self._input_buffer.shape != shape:
            self._input_buffer = np.empty(shape, dtype=np.float32)
        batch = self._input_buffer
        metas = []
        for i, image in enumerate(images):
            _, meta = preprocess(image, input_wh, out=batch[i])
            metas.append(meta)
        if self.flip_test:
            fill_mirrored_half(batch)
        return batch, metas

    def _sync(self) -> None:
        if self.backend.device.type == "cuda":
            torch.cuda.synchronize(self.backend.device)


def _built_input_size(path: Path, fmt: str) -> InputSize | None:
    """The input an exported file was built for, when the file says so (for a file with dynamic
    height and width: the size it was exported at)."""
    if fmt == ONNX:
        from centerpose_core.export.onnx_checks import inspect_pose_onnx
        from centerpose_core.export.onnx_export import read_metadata

        info = inspect_pose_onnx(path)
        if not info.dynamic_hw:
            return info.height if info.height == info.width else (info.width, info.height)
        size = read_metadata(path).get("input_size", "")
        return int(size) if size.isdigit() else None
    if fmt == TENSORRT_ENGINE:
        from centerpose_core.export.tensorrt import read_engine

        key, _ = read_engine(path)
        return key.input_size if key is not None else None
    return None


def _mask_patches(
    persons: list[list[Person]],
    maps: dict[str, torch.Tensor],
    inds: torch.Tensor,
    to_image: list[np.ndarray],
    images: Sequence[np.ndarray],
    threshold: float,
    in_box: bool,
) -> list[list]:
    """Per image, its persons' `mask_patches`: cut to their boxes (`masks.boxed_mask_patches`), or
    by the seed's whole-map rule, convolved over the map region the image reads (`masks.map_region`)."""
    if in_box:
        return [
            boxed_mask_patches(
                maps["seg_feat"][i],
                maps["seg"][i],
                inds[i, : len(found)],
                [person.bbox for person in found],
                matrix,
                image.shape[:2],
                threshold,
            )
            for i, (found, matrix, image) in enumerate(zip(persons, to_image, images))
        ]
    map_hw = tuple(maps["seg_feat"].shape[-2:])
    regions = [map_region(matrix, image.shape[:2], map_hw) for matrix, image in zip(to_image, images)]
    probabilities = mask_probabilities(maps, inds, [len(found) for found in persons], regions)
    return [
        mask_patches(probs.cpu().numpy(), matrix, image.shape[:2], threshold, origin=(c0, r0))
        for probs, matrix, image, (r0, _, c0, _) in zip(probabilities, to_image, images, regions)
    ]
