"""A folder of class folders as an image dataset: `ROOT/<class name>/<image files>`.

If `ROOT` holds `train/` and `test/` with the same class folders, those are the splits;
otherwise a stratified test split (`test_fraction`, seed 0, so every run of the folder is
tested on the same images) is held out. The PNG, JPEG, BMP and GIF files directly in each
class folder, of any size and mode, are read (other files are skipped by extension, and
counted); each is converted to one shape: the folder's own size and mode when every image
shares them, else `image_size` / `channels` (1: grayscale, 3: RGB) must say which.

Every file is checked before any training: a folder that is not a dataset, an empty or
lone class, a class too small for the splits, mixed sizes or modes without a choice, and
a file that cannot be decoded (named; skipped and counted with `skip_bad_images=True`) are
refused with one line. The images are decoded into memory.

Example:
    >>> import pathlib, tempfile
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("cat", "dog"):
    ...     (root / name).mkdir()
    ...     for i in range(5):
    ...         Image.new("RGB", (12, 10), (40 * i, 0, 0)).save(root / name / f"{i}.png")
    >>> data = load_image_folder(root)
    >>> data.class_names, data.x_train.shape, data.x_test.shape
    (['cat', 'dog'], (8, 10, 12, 3), (2, 10, 12, 3))
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.errors import DataValidationError
from pipelines.inputs.mnist import ImageData
from pipelines.inputs.raw_images import IMAGE_SUFFIXES, convert_picture
from pipelines.inputs.splits import train_val_split

__all__ = ["FolderScan", "scan_folder", "load_image_folder"]

SPLIT_SEED = 0
# Pillow modes by the channels they hold; palette and CMYK images are colour.
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


@dataclasses.dataclass(frozen=True)
class FolderScan:
    """What a folder holds, read from the file headers (nothing decoded).

    Attributes:
        root: The folder.
        class_names: The class folders' names, sorted.
        files: {"train": [(path, class index)], "test": [...]} with train/test folders,
            else {"all": [...]}.
        sizes: The distinct (height, width) of the images.
        channels: The distinct channel counts (1 or 3) of the images' modes.
        skipped: Files skipped by extension (not PNG, JPEG, BMP, GIF).
    """

    root: Path
    class_names: list[str]
    files: dict[str, list[tuple[Path, int]]]
    sizes: frozenset[tuple[int, int]]
    channels: frozenset[int]
    skipped: int

    def shape(self, image_size: tuple[int, int] | None, channels: int | None) -> tuple[int, int, int]:
        """The (height, width, channels) the images are converted to.

        Raises:
            DataValidationError: Sizes or modes differ and the setting that would choose is `None`.
        """
        if image_size is None and len(self.sizes) > 1:
            shown = ", ".join(f"{h}x{w}" for h, w in sorted(self.sizes)[:4])
            raise DataValidationError(
                f"expected images of one size in {self.root}, or image_size=(height, width). Received sizes {shown}"
                + (" and more" if len(self.sizes) > 4 else "")
            )
        if channels is None and len(self.channels) > 1:
            raise DataValidationError(
                f"expected images of one kind in {self.root} (grayscale or colour), or channels=1 or 3. "
                "Received both grayscale and colour images"
            )
        height, width = image_size if image_size is not None else next(iter(self.sizes))
        return int(height), int(width), int(channels if channels is not None else next(iter(self.channels)))


def scan_folder(root: str | os.PathLike, min_per_class: int = 3) -> FolderScan:
    """Reads a folder's layout and its images' headers (see the module docstring).

    Args:
        root: The folder.
        min_per_class: The fewest images a class may have (train, validation and test need one each).

    Raises:
        DataValidationError: Not a folder of class folders, an empty or lone class, a class
            with fewer than `min_per_class` images, or an image header that cannot be read.
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(root)
    if not root.is_dir():
        raise DataValidationError(f"expected a folder of class folders. Received {str(root)!r}: no such folder")
    splits = _split_folders(root)
    class_names = sorted(p.name for p in (splits.get("train", root)).iterdir() if p.is_dir())
    if len(class_names) < 2:
        raise DataValidationError(
            f"expected at least two class folders in {splits.get('train', root)}. Received {class_names or 'none'}"
        )
    files: dict[str, list[tuple[Path, int]]] = {}
    skipped, sizes, channels = 0, set(), set()
    for split, folder in (splits or {"all": root}).items():
        found = sorted(p.name for p in folder.iterdir() if p.is_dir())
        if found != class_names:
            raise DataValidationError(
                f"expected the class folders {class_names} in {folder}, as in the training folder. Received {found}"
            )
        strays = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if strays:
            raise DataValidationError(f"expected images inside class folders. Received {strays[0]}, in no class")
        files[split] = []
        for index, name in enumerate(class_names):
            # Only the class folder's own files: a mistyped root such as "/" must not walk a disk.
            paths = sorted(p for p in (folder / name).iterdir() if p.is_file())
            images = [p for p in paths if p.suffix.lower() in IMAGE_SUFFIXES]
            skipped += len(paths) - len(images)
            least = 1 if split == "test" else (2 if splits else min_per_class)
            if len(images) < least:
                raise DataValidationError(
                    f"expected at least {least} images (PNG, JPEG, BMP, GIF) in the class folder {folder / name}. "
                    f"Received {len(images)}"
                    + (": the train, validation and test splits need one each" if least == min_per_class else "")
                )
            for path in images:
                try:
                    with Image.open(path) as picture:  # the header only: size and mode
                        sizes.add((picture.size[1], picture.size[0]))
                        channels.add(_channels(picture))
                except (OSError, UnidentifiedImageError):
                    pass  # decoded, and refused or skipped, by load_image_folder
                files[split].append((path, index))
    return FolderScan(root, class_names, files, frozenset(sizes), frozenset(channels), skipped)


def load_image_folder(
    root: str | os.PathLike,
    *,
    image_size: tuple[int, int] | None = None,
    channels: int | None = None,
    test_fraction: float = 0.2,
    skip_bad_images: bool = False,
) -> ImageData:
    """Decodes a folder of class folders into an `ImageData` (see the module docstring).

    Raises:
        DataValidationError: See the module docstring; an image that cannot be decoded is
            named, unless `skip_bad_images`.
    """
    from PIL import Image, UnidentifiedImageError

    scan = scan_folder(root)
    shape = scan.shape(image_size, channels)
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    bad: list[str] = []
    for split, entries in scan.files.items():
        images, labels = [], []
        for path, label in entries:
            try:
                with Image.open(path) as picture:
                    picture.load()
                    images.append(convert_picture(picture, shape)[0])
                    labels.append(label)
            except (OSError, UnidentifiedImageError, ValueError) as e:
                if not skip_bad_images:
                    raise DataValidationError(
                        f"cannot read the image {path}: {e} (set skip_bad_images=true to leave it out)"
                    ) from e
                bad.append(str(path))
        if not images:
            raise DataValidationError(f"expected readable images in {scan.root}. Received none in the {split} split")
        arrays[split] = (np.stack(images), np.asarray(labels, np.int64))
    if "all" in arrays:
        x_train, y_train, x_test, y_test = train_val_split(*arrays["all"], test_fraction, SPLIT_SEED)
        split_note: dict[str, Any] = {"method": "stratified", "test_fraction": test_fraction, "seed": SPLIT_SEED}
    else:
        (x_train, y_train), (x_test, y_test) = arrays["train"], arrays["test"]
        split_note = {"method": "the folder's train/ and test/"}
    info = {
        "name": scan.root.name,
        "source": str(scan.root.resolve()),
        "splits": {"train": len(y_train), "test": len(y_test)},
        "checksum_verified": False,
        "resolved_by": "folder",
        "split": split_note,
        "class_counts": {"train": np.bincount(y_train, minlength=len(scan.class_names)).tolist()},
        "converted_to": list(shape),
        "skipped_non_images": scan.skipped,
        "skipped_bad_images": len(bad),
    }
    if bad:
        info["bad_images"] = bad[:20]
    return ImageData(x_train, y_train, x_test, y_test, class_names=list(scan.class_names), info=info)


def _channels(picture: Any) -> int:
    # A palette image (GIF) is grayscale when every palette entry is a grey.
    if picture.mode == "P":
        palette = np.asarray(picture.getpalette() or [], np.uint8).reshape(-1, 3)
        return 1 if (palette == palette[:, :1]).all() else 3
    return 1 if picture.mode in _GRAY_MODES else 3


def _split_folders(root: Path) -> dict[str, Path]:
    # train/ and test/ are splits only when both exist; a class may not be called "train" alone.
    train, test = root / "train", root / "test"
    return {"train": train, "test": test} if train.is_dir() and test.is_dir() else {}
