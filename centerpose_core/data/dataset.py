"""COCO-format keypoint dataset producing CenterNet multi-pose inputs and targets.

Any COCO keypoint json works (COCO itself, OCHuman, the synthetic set): person annotations with
17 keypoints each. The json is checked when the dataset is built, so a broken annotation fails
at once with its file and id instead of producing a silently wrong target.

As the original (`datasets/sample/multi_pose.py` reads every annotation of the image), crowd
annotations (`iscrowd` 1, no labelled keypoints) are encoded too: they take a person slot and get
a center peak but no box/keypoint supervision (`reg_mask` 0); training keeps every image that has
any person annotation, crowd or not.

With `masks=True` (the seed's whole-body branch) each sample also gets the `seg` target
(`PoseTargetCodec.encode_masks`) from the annotations' `segmentation` (polygons or RLE); an
annotation without one trains with its mask slot ignored.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from torch.utils.data import Dataset

from centerpose_core.affine import get_affine_transform, image_center_scale, normalize
from centerpose_core.constants import DOWN_RATIO, NUM_KEYPOINTS
from centerpose_core.data.augment import AugmentConfig, Geometry, color_augment, sample_geometry
from centerpose_core.data.codec import MAX_OBJECTS, PoseTargetCodec
from centerpose_core.data.masks import annotation_mask
from centerpose_core.flip import mirror_annotations
from centerpose_core.image_io import read_image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PersonAnnotation:
    ann_id: int
    box: np.ndarray  # (4,) float32 x1 y1 x2 y2, source pixels
    keypoints: np.ndarray  # (17, 3) float32 x y v
    segmentation: Any = None  # COCO polygons or RLE as in the json; None / [] when absent


@dataclass(frozen=True)
class ImageRecord:
    image_id: int
    file_name: str
    persons: tuple[PersonAnnotation, ...]


def load_coco(ann_file: str | Path):
    """pycocotools' COCO for `ann_file`, after checking it is a COCO annotation file (quietly)."""
    from pycocotools.coco import COCO

    ann_file = Path(ann_file)
    if not ann_file.is_file():
        raise FileNotFoundError(f"{ann_file}: annotation file not found")
    try:
        data = json.loads(ann_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{ann_file}: not a COCO annotation file (invalid JSON: {exc})") from None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(key), list) for key in ("images", "annotations", "categories")
    ):
        raise ValueError(
            f"{ann_file}: not a COCO annotation file (needs 'images', 'annotations' and 'categories' lists)"
        )
    for image in data["images"]:
        if not isinstance(image, dict) or "id" not in image or "file_name" not in image:
            raise ValueError(f"{ann_file}: image entry {image!r:.80} lacks 'id' or 'file_name'")
    image_ids = {image["id"] for image in data["images"]}
    for ann in data["annotations"]:
        if not isinstance(ann, dict) or "id" not in ann or "image_id" not in ann:
            raise ValueError(f"{ann_file}: annotation entry {ann!r:.80} lacks 'id' or 'image_id'")
        if ann["image_id"] not in image_ids:
            raise ValueError(f"{ann_file}: annotation id {ann['id']}: unknown image_id {ann['image_id']}")
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def person_category_ids(coco) -> list[int]:
    """Categories named 'person' (COCO), or every category when none is so named."""
    cats = coco.loadCats(coco.getCatIds())
    person = [c["id"] for c in cats if c.get("name") == "person"]
    return person or [c["id"] for c in cats]


def parse_person(ann: dict, ann_file: Path) -> PersonAnnotation:
    """Validate one annotation; raise ValueError naming the file and annotation id when it is unusable."""
    ann_id = ann["id"]
    kps = ann.get("keypoints")
    if kps is None and ann.get("iscrowd"):
        kps = [0] * (3 * NUM_KEYPOINTS)  # a crowd region without keypoints: none labelled
    if not isinstance(kps, list) or len(kps) != 3 * NUM_KEYPOINTS:
        got = len(kps) if isinstance(kps, list) else type(kps).__name__
        raise ValueError(
            f"{ann_file}: annotation id {ann_id}: 'keypoints' has {got} values, "
            f"expected {3 * NUM_KEYPOINTS} ({NUM_KEYPOINTS} x (x, y, visibility))"
        )
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise ValueError(
            f"{ann_file}: annotation id {ann_id}: 'bbox' must be [x, y, width, height], got {bbox!r}"
        )
    try:
        x, y, w, h = (float(v) for v in bbox)
        points = np.asarray(kps, dtype=np.float32).reshape(NUM_KEYPOINTS, 3)
    except (TypeError, ValueError):
        raise ValueError(f"{ann_file}: annotation id {ann_id}: non-numeric 'bbox' or 'keypoints'") from None
    if not all(math.isfinite(v) for v in (x, y, w, h)) or not np.isfinite(points).all():
        raise ValueError(f"{ann_file}: annotation id {ann_id}: non-finite 'bbox' or 'keypoints'")
    if w < 0 or h < 0:
        raise ValueError(f"{ann_file}: annotation id {ann_id}: negative box size (width {w}, height {h})")
    if w == 0 or h == 0:
        # Kept in its slot like the original, whose target check (h > 0 and w > 0) then skips it.
        log.warning(
            "%s: annotation id %s: degenerate box %s (zero width or height): no target",
            ann_file,
            ann_id,
            bbox,
        )
    return PersonAnnotation(
        ann_id=int(ann_id),
        box=np.array([x, y, x + w, y + h], dtype=np.float32),
        keypoints=points,
        segmentation=ann.get("segmentation"),
    )


class CocoKeypointDataset(Dataset):
    """CenterNet multi-pose samples: a normalised (3, S, S) input and the targets of `PoseTargetCodec`.

    Args:
        ann_file: COCO keypoint annotation json.
        image_dir: folder the images' `file_name`s are relative to.
        input_size: network input side S (512 as the original); targets are S / 4.
        train: augment (see `AugmentConfig`) and keep only images with persons, as the original's
            train split; otherwise the fixed validation warp and every image.
        augment: augmentation options (train only).
        seed: base seed; sample `i` of epoch `e` draws from `default_rng([seed, e, i])`, so it is
            the same whichever worker or rank loads it (call `set_epoch` every epoch).
        max_objects: as `PoseTargetCodec`.
        repeat: iterate the images this many times per epoch (tiny datasets: fewer epoch-end
            checkpoints/validations per optimiser step); each repetition draws its own augmentation.
        masks: also produce the `seg` mask target (training the mask branch).

    Items are dicts of numpy arrays: `input` and the targets under the original's names, plus
    `image_id` (int64), `center` (2,) and `scale` () of the warp (for mapping predictions back).
    """

    def __init__(
        self,
        ann_file: str | Path,
        image_dir: str | Path,
        *,
        input_size: int = 512,
        train: bool = True,
        augment: AugmentConfig | None = None,
        seed: int = 0,
        max_objects: int = MAX_OBJECTS,
        repeat: int = 1,
        masks: bool = False,
    ) -> None:
        if repeat <= 0:
            raise ValueError(f"repeat must be positive, got {repeat}")
        if input_size <= 0 or input_size % 32 != 0:
            raise ValueError(f"input_size must be a positive multiple of 32, got {input_size}")
        self.ann_file = Path(ann_file)
        self.image_dir = Path(image_dir)
        if not self.image_dir.is_dir():
            raise FileNotFoundError(f"{self.image_dir}: image folder not found")
        self.input_size = input_size
        self.output_size = input_size // DOWN_RATIO
        self.train = train
        self.augment = augment if augment is not None else AugmentConfig()
        self.seed = seed
        self.epoch = 0
        self.repeat = repeat
        self.masks = masks
        self.codec = PoseTargetCodec(output_size=self.output_size, max_objects=max_objects)
        self.coco = load_coco(self.ann_file)
        self.records = self._index(self.coco)

    def _index(self, coco) -> list[ImageRecord]:
        cat_ids = person_category_ids(coco)
        records = []
        for image_id in coco.getImgIds():
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id], catIds=cat_ids))
            persons = tuple(parse_person(a, self.ann_file) for a in anns)
            if self.train and not persons:
                continue
            records.append(ImageRecord(int(image_id), coco.imgs[image_id]["file_name"], persons))
        return records

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draws of `epoch` (DistributedSampler-style)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.records) * self.repeat

    def read_image(self, record: ImageRecord) -> np.ndarray:
        return read_image(self.image_dir / record.file_name, f"image id {record.image_id}")

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, self.epoch, index]) if self.train else None
        return self.make_sample(index % len(self.records), rng=rng)

    def make_sample(
        self, index: int, rng: np.random.Generator | None = None, geometry: Geometry | None = None
    ) -> dict[str, np.ndarray]:
        """Sample `index`: random geometry/colour from `rng`, a given `geometry`, or the validation warp."""
        record = self.records[index]
        image = self.read_image(record)
        height, width = image.shape[:2]
        if geometry is None:
            if rng is not None:
                geometry = sample_geometry(rng, height, width, self.augment)
            else:
                center, scale = image_center_scale(height, width)  # the test-time warp
                geometry = Geometry(center=center, scale=scale, rotation=0.0, flipped=False)
        if geometry.flipped:
            image = cv2.flip(image, 1)
        c, s, rot = geometry.center, geometry.scale, geometry.rotation
        size = self.input_size
        trans_input = get_affine_transform(c, s, rot, (size, size))
        warped = cv2.warpAffine(image, trans_input, (size, size), flags=cv2.INTER_LINEAR)
        inp = warped.astype(np.float32) / np.float32(255.0)
        if rng is not None and self.augment.color:
            color_augment(rng, inp)
        inp = normalize(inp).transpose(2, 0, 1)

        boxes, keypoints = self.person_arrays(record, width, geometry.flipped)
        out = self.output_size
        trans_output = get_affine_transform(c, s, 0, (out, out))
        targets = self.codec.encode(
            boxes,
            keypoints,
            trans_output=trans_output,
            trans_output_rot=get_affine_transform(c, s, rot, (out, out)),
            rotated=rot != 0,
        )
        if self.masks:
            person_masks = self.person_masks(record, height, width, geometry.flipped)
            targets["seg"] = self.codec.encode_masks(targets, person_masks, trans_output)
        sample = {"input": np.ascontiguousarray(inp, dtype=np.float32), **targets}
        sample["image_id"] = np.int64(record.image_id)
        sample["center"] = np.asarray(c, dtype=np.float32)
        sample["scale"] = np.float32(s)
        return sample

    def person_masks(
        self, record: ImageRecord, height: int, width: int, flipped: bool
    ) -> list[np.ndarray | None]:
        """Each person's 0/1 mask in (flipped, when the sample is) source pixels, None without one."""
        masks = []
        for person in record.persons:
            try:
                mask = annotation_mask(person.segmentation, height, width)
            except ValueError as exc:
                raise ValueError(f"{self.ann_file}: annotation id {person.ann_id}: {exc}") from None
            masks.append(cv2.flip(mask, 1) if mask is not None and flipped else mask)
        return masks

    @staticmethod
    def person_arrays(record: ImageRecord, width: int, flipped: bool) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (N, 4) and keypoints (N, 17, 3) of an image, mirrored as the original when flipped."""
        if not record.persons:
            return np.zeros((0, 4), np.float32), np.zeros((0, NUM_KEYPOINTS, 3), np.float32)
        boxes = np.stack([p.box for p in record.persons]).astype(np.float32)
        keypoints = np.stack([p.keypoints for p in record.persons]).astype(np.float32)
        return mirror_annotations(boxes, keypoints, width) if flipped else (boxes, keypoints)
