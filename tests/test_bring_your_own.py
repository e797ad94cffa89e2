"""Training on the user's own image folder and a torchvision ResNet from a local weights file (nothing
downloaded): a tiny folder made from scikit-learn's digits, a randomly initialised ResNet-18 saved here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
pytest.importorskip("sklearn")
Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def own(tmp_path_factory) -> Path:
    """images/<digit>/<n>.png (3 classes x 12 RGB images) and resnet18.pth beside them."""
    from sklearn.datasets import load_digits
    root = tmp_path_factory.mktemp("own")
    digits = load_digits()
    for label in (0, 1, 2):
        folder = root / "images" / f"digit-{label}"
        folder.mkdir(parents=True)
        for n, image in enumerate(digits.images[digits.target == label][:12]):
            pixels = np.kron((image * 16).clip(0, 255).astype(np.uint8), np.ones((2, 2), dtype=np.uint8))
            Image.fromarray(np.stack([pixels] * 3, axis=-1)).save(folder / f"{n}.png")
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), root / "resnet18.pth")
    return root


def config(root: Path, **changes) -> dict:
    return {"name": "own", "resolution": 32, "backbone_epochs": 1, "splits": [1], "reduced_channels": [2],
            "distil_epochs": 0, "finetune_epochs": 1, "qualities": [20], "naive": False,
            "data": {"kind": "image_folder", "path": "images", "test_fraction": 0.25},
            "backbone": {"kind": "torchvision", "model": "resnet18", "weights": "resnet18.pth"}, **changes}


def test_linear_probe_leaves_the_weights_files_layers_as_they_were(own):
    from simsplit.ml.bottleneck.config import TrainConfig
    from simsplit.ml.bottleneck.data import Data, load_data
    from simsplit.ml.bottleneck.train import train_backbone
    settings = config(own)
    settings["data"]["path"] = str(own / "images")
    settings["backbone"]["weights"] = str(own / "resnet18.pth")
    train = TrainConfig.model_validate(settings)
    data = load_data(train)
    assert isinstance(data, Data) and data.classes == 3 and tuple(data.train_x.shape[1:]) == (3, 32, 32)
    assert len(data.test_y) == 9 and sorted(np.bincount(data.test_y.numpy())) == [3, 3, 3]  # stratified
    blocks = train_backbone(train, data, torch.Generator().manual_seed(0), lambda: None)
    state = torch.load(own / "resnet18.pth", weights_only=True)
    assert torch.equal(blocks[1][0].conv1.weight, state["layer1.0.conv1.weight"])
    assert torch.equal(blocks[0][1].running_mean, state["bn1.running_mean"])  # batch norm kept its statistics
    assert blocks[-1][-1].out_features == 3 and all(p.requires_grad for p in blocks.parameters())


def test_cli_trains_on_the_users_folder_and_weights(own, tmp_path):
    import yaml

    from simsplit.cli import main
    from simsplit.scenario.payloads import load_payloads
    from simsplit.scenario.profiles import load_profile
    path = own / "own.yaml"
    path.write_text(yaml.safe_dump(config(own)))
    assert main(["train-bottleneck", str(path), "--out", str(tmp_path / "out")]) == 0
    payloads = load_payloads(tmp_path / "out" / "payloads.csv")
    assert payloads.get(0, "raw-uint8").bytes == 3 * 32 * 32
    assert {e.bottleneck for e in payloads.at_split(1)} == {"bn-c2-q20", "bn-c2-q20-shared-tables"}
    profile = load_profile(tmp_path / "out" / "profile.csv")
    assert profile.local_split == 6
    assert "36 images of 3 classes from images" in (tmp_path / "out" / "payloads.csv").read_text()


@pytest.mark.parametrize(("change", "field"), [
    ({"backbone": {"kind": "torchvision", "model": "resnet18", "weights": "missing.pth"}}, "backbone.weights"),
    ({"backbone": {"kind": "torchvision", "model": "resnet34", "weights": "resnet18.pth"}}, "backbone.weights"),
    ({"data": {"kind": "image_folder", "path": "nowhere"}}, "data.path"),
    ({"data": {"kind": "image_folder", "path": "images/digit-0"}}, "data.path"),
    ({"data": {"kind": "folder", "path": "images"}}, "data"),
])
def test_bad_data_or_weights_exit_2_naming_the_field(own, tmp_path, capsys, change, field):
    import yaml

    from simsplit.cli import main
    path = own / f"bad-{len(list(own.glob('bad-*')))}.yaml"
    path.write_text(yaml.safe_dump(config(own, **change)))
    assert main(["train-bottleneck", str(path), "--out", str(tmp_path / "out")]) == 2
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0 and field in message and str(path) in message
    assert not (tmp_path / "out").exists()
