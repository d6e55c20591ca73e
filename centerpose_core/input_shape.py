"""The network input an image is warped into: a square (CenterNet's default), a fixed rectangle,
or a rectangle fitted to each image's aspect (camera-shaped input).

A 640x480 camera warped into 512x512 spends a quarter of the network's work on black letterbox
rows; warped into 512x384 it fills the input exactly. Sides are multiples of 32 (the network's
total stride). Pure Python: the CLI and the ROS node parse sizes with it without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass

ALIGN = 32  # every input side is a multiple of the network's total stride

InputSize = int | tuple[int, int]  # a square side, or (width, height)


def parse_input_size(value: object) -> InputSize:
    """512, "512" -> 512; (512, 384), "512x384" -> (512, 384) as (width, height).

    Raises ValueError naming the value unless every side is a positive multiple of 32.
    """
    if isinstance(value, str):
        parts = value.lower().replace(" ", "").split("x")
        if not all(part.isdigit() for part in parts) or len(parts) not in (1, 2):
            raise ValueError(f"input size {value!r}: expected a side (512) or WIDTHxHEIGHT (512x384)")
        value = int(parts[0]) if len(parts) == 1 else (int(parts[0]), int(parts[1]))
    if isinstance(value, (tuple, list)) and len(value) == 2:
        sides = tuple(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        sides = (value,)
    else:
        raise ValueError(f"input size {value!r}: expected a side (512) or (width, height)")
    for side in sides:
        if isinstance(side, bool) or not isinstance(side, int) or side <= 0 or side % ALIGN:
            raise ValueError(f"input size {value!r}: every side must be a positive multiple of {ALIGN}")
    return sides[0] if len(sides) == 1 else (sides[0], sides[1])


def fitted_input_shape(image_height: int, image_width: int, long_side: int) -> tuple[int, int]:
    """(width, height) of the input fitted to an image: its longer side gets `long_side`, the other
    the image's aspect rounded up to a multiple of 32 (the whole image always fits; e.g. 640x480 at
    512 -> 512x384, 1920x1080 -> 512x288, 640x427 -> 512x352)."""
    if image_height <= 0 or image_width <= 0:
        raise ValueError(f"image of {image_width}x{image_height} pixels has no area")
    shorter, longer = sorted((image_height, image_width))
    # ceil(long_side * shorter / longer / 32) * 32 in integers (no float rounding up a whole 32)
    short = max(ALIGN, -(-long_side * shorter // (longer * ALIGN)) * ALIGN)
    return (long_side, short) if image_width >= image_height else (short, long_side)


@dataclass(frozen=True)
class InputShape:
    """What the Predictor warps each image into.

    width, height: the fixed input (a square unless given as a rectangle).
    fit_aspect: instead of the fixed input, use `fitted_input_shape(image, max(width, height))`
        for every image (a camera stream keeps one shape; images of other aspects get theirs).
    """

    width: int
    height: int
    fit_aspect: bool = False

    @classmethod
    def of(cls, size: object, fit_aspect: bool = False) -> InputShape:
        """From an input size as `parse_input_size` reads it; fit_aspect takes a single side."""
        parsed = parse_input_size(size)
        if fit_aspect and not isinstance(parsed, int):
            raise ValueError(
                f"fit_aspect takes one side (the longer input side, e.g. 512), not the rectangle {parsed}"
            )
        width, height = (parsed, parsed) if isinstance(parsed, int) else parsed
        return cls(width, height, bool(fit_aspect))

    @property
    def fixed_square(self) -> int | None:
        """The side when every image gets the same square input (the original's mode), else None."""
        return self.width if self.width == self.height and not self.fit_aspect else None

    @property
    def long_side(self) -> int:
        return max(self.width, self.height)

    def for_image(self, image_height: int, image_width: int) -> tuple[int, int]:
        """(width, height) of the network input for an image of this size."""
        if self.fit_aspect:
            return fitted_input_shape(image_height, image_width, self.long_side)
        return self.width, self.height

    def accepts(self, width: int, height: int) -> bool:
        """Whether an input of width x height can come out of this shape."""
        if not self.fit_aspect:
            return (width, height) == (self.width, self.height)
        return max(width, height) == self.long_side and width % ALIGN == 0 and height % ALIGN == 0

    def describe(self) -> str:
        if self.fit_aspect:
            return f"fitted to each image's aspect, longer side {self.long_side}"
        return f"{self.width}x{self.height}"
