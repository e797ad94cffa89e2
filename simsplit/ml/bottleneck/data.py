"""The data a bottleneck is trained on: scikit-learn's bundled handwritten digits (1,797 8x8 images, no
download) upsampled, or the user's image folder (one sub-folder per class), split into training and test sets
with the seed; and the shuffled mini-batches of training."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from simsplit.core.config import FieldValueError
from simsplit.ml.bottleneck.config import ImageFolderData, TrainConfig


@dataclass
class Data:
    """Training and test images (N x channels x resolution x resolution) and their labels."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: int = 10
    description: str = "scikit-learn's digits"


def load_digits_data(resolution: int, seed: int) -> Data:
    """scikit-learn's digits in [0, 1], upsampled to ``resolution``, split 80/20 stratified with ``seed``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)
    y = torch.tensor(digits.target)
    train, test = train_test_split(np.arange(len(y)), test_size=0.2, random_state=seed, stratify=digits.target)
    return Data(x[train], y[train], x[test], y[test])


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def load_image_folder(options: ImageFolderData, resolution: int, seed: int) -> Data:
    """The images of ``options.path`` as tensors (3 x resolution x resolution, ImageNet-normalised), split
    ``test_fraction`` for testing, stratified with ``seed``. Raises FieldValueError (``data.path``) naming what is
    wrong."""
    from sklearn.model_selection import train_test_split
    from torchvision import datasets, transforms
    folder = Path(options.path)
    if not folder.is_dir():
        raise FieldValueError("data.path", f"expected a folder of class sub-folders, got {options.path}")
    transform = transforms.Compose([transforms.Resize(resolution), transforms.CenterCrop(resolution),
                                    transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    try:
        images = datasets.ImageFolder(str(folder), transform=transform)
    except (FileNotFoundError, OSError) as exc:  # no class sub-folders, or none holding an image
        raise FieldValueError("data.path", f"expected a folder of class sub-folders of images: {exc}") from None
    if len(images.classes) < 2:
        raise FieldValueError("data.path", f"expected at least two class sub-folders in {options.path}, found "
                              f"{len(images.classes)}")
    targets = np.array(images.targets)
    order = np.arange(len(targets))
    if options.max_images is not None:  # round-robin over classes, so that every class keeps images
        ranks = np.zeros(len(targets), dtype=int)
        for label in range(len(images.classes)):
            ranks[targets == label] = np.arange(int((targets == label).sum()))
        order = np.lexsort((targets, ranks))[:options.max_images]
    counts = np.bincount(targets[order], minlength=len(images.classes))
    if counts.min() < 2:
        raise FieldValueError("data.path", f"expected at least two images per class, found {counts.min()} in "
                              f"{images.classes[int(counts.argmin())]!r}")
    x = torch.stack([images[int(i)][0] for i in order])
    y = torch.tensor(targets[order])
    train, test = train_test_split(np.arange(len(y)), test_size=options.test_fraction, random_state=seed,
                                   stratify=y.numpy())
    return Data(x[train], y[train], x[test], y[test], len(images.classes),
                f"{len(y)} images of {len(images.classes)} classes from {folder.name}")


def load_data(config: TrainConfig) -> Data:
    """The data ``config`` names, at its resolution, split with its seed."""
    if config.data.kind == "image_folder":
        return load_image_folder(config.data, config.resolution, config.seed)
    return load_digits_data(config.resolution, config.seed)


def batches(data_x: torch.Tensor, data_y: torch.Tensor, size: int,
            generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Mini-batches of ``size`` samples (the last one shorter) in an order shuffled with ``generator``."""
    order = torch.randperm(len(data_y), generator=generator)
    for start in range(0, len(order), size):
        index = order[start:start + size]
        yield data_x[index], data_y[index]
