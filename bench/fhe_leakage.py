"""Leakage of FHE split inference: what the model owner receives, and what it can rebuild from it.

    .venv/bin/python bench/fhe_leakage.py            # full run, a few minutes on 2 CPUs
    .venv/bin/python bench/fhe_leakage.py --quick    # 2 settings per split, short training (tests)

For every split point × obfuscation setting (the model retrained with the obfuscation in the loop
where marked "aware"; "post-hoc" applies it to the plain model), on digits-28:

- accuracy on the held-out ``test`` split (mean of 5 noise draws) and its cost against the plain
  model;
- dCor between test images and the obfuscated activations the owner receives (numpy, n = 449);
- an inversion network trained on the ``public`` split's obfuscated activations, scored on ``test``
  (PSNR, SSIM), and the label attack (the owner's own tail → mean public image of that class);
- next to two baselines: the average public image, and the class mean of the *true* label (the
  floor of an attacker who learns only the label — which the owner computes anyway).

Writes bench/results/fhe_leakage.json (``--out`` overrides). Measures; never asserts.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from enclava.splitnn.obfuscation import NONE, Obfuscation
from enclava.splitnn.splits import SPLIT_SPECS, SplitSpec
from research.splitnn.build import SHIPPED
from research.splitnn.data import digits_28
from research.splitnn.dcor import distance_correlation
from research.splitnn.inversion import class_mean_images, score_reconstructions, train_inversion
from research.splitnn.nets import Tail
from research.splitnn.training import TrainConfig, TrainedSplit, head_outputs, train_split

SSIM_MARGIN, MAX_ACCURACY_COST = 0.1, 0.02


def G(sigma: float) -> Obfuscation:
    return Obfuscation("gaussian", sigma)


#: (label, obfuscation, retrain with it in the loop, NoPeek weight)
Setting = tuple[str, Obfuscation, bool, float]
FULL: list[Setting] = [
    ("none", NONE, False, 0.0),
    ("gauss 1.0 post-hoc", G(1.0), False, 0.0),
    ("gauss 0.5 aware", G(0.5), True, 0.0),
    ("gauss 1.0 aware", G(1.0), True, 0.0),
    ("gauss 2.0 aware", G(2.0), True, 0.0),
    ("gauss 1.0 aware + nopeek 0.3", G(1.0), True, 0.3),
    ("gauss 0.75 aware + nopeek 1.0", G(0.75), True, 1.0),
    ("dropout 0.5 aware", Obfuscation("dropout", 0.5), True, 0.0),
    ("quantize 1.0 aware", Obfuscation("quantize", 1.0), True, 0.0),
]
QUICK = [FULL[0], FULL[6]]  # the plain model and the shipped setting


def _accuracy(
    tail: Tail,
    z: np.ndarray,
    y: np.ndarray,
    obf: Obfuscation,
    rms: float,
    rng: np.random.Generator,
    draws: int = 5,
) -> float:
    accs = []
    for _ in range(draws if obf.kind in ("gaussian", "dropout") else 1):
        with torch.no_grad():
            pred = (
                tail(torch.as_tensor(obf.apply(z, rms, rng), dtype=torch.float32)).argmax(1).numpy()
            )
        accs.append(float(np.mean(pred == y)))
    return float(np.mean(accs))


#: (train, public, test) as (images, labels), and the public class-mean images
Data = tuple[
    tuple[np.ndarray, np.ndarray],
    tuple[np.ndarray, np.ndarray],
    tuple[np.ndarray, np.ndarray],
    np.ndarray,
]


def run_setting(
    spec: SplitSpec,
    label: str,
    obf: Obfuscation,
    aware: bool,
    nopeek: float,
    data: Data,
    *,
    epochs: int,
    inv_epochs: int,
    plain_cache: dict[str, TrainedSplit],
) -> dict[str, Any]:
    (x_tr, y_tr), (x_pub, y_pub), (x_te, y_te), means = data
    key = spec.name
    if aware or key not in plain_cache:
        trained = train_split(
            spec,
            x_tr,
            y_tr,
            TrainConfig(obfuscation=obf if aware else NONE, nopeek=nopeek, epochs=epochs),
        )
        if not aware:
            plain_cache[key] = trained
    trained = trained if aware else plain_cache[key]
    rng = np.random.default_rng(11)
    z_pub, z_te = head_outputs(trained.head, x_pub), head_outputs(trained.head, x_te)
    seen_pub, seen_te = (
        obf.apply(z_pub, trained.activation_rms, rng),
        obf.apply(z_te, trained.activation_rms, rng),
    )
    invert = train_inversion(seen_pub, x_pub, epochs=inv_epochs)
    with torch.no_grad():
        owner_labels = trained.tail(torch.as_tensor(seen_te, dtype=torch.float32)).argmax(1).numpy()
    return {
        "split": spec.name,
        "setting": label,
        "obfuscation": obf.to_dict(),
        "noise_aware": aware,
        "nopeek": nopeek,
        "shipped": aware
        and SHIPPED[spec.name] == replace(SHIPPED[spec.name], obfuscation=obf, nopeek=nopeek),
        "accuracy": _accuracy(trained.tail, z_te, y_te, obf, trained.activation_rms, rng),
        "dcor": distance_correlation(x_te, seen_te),
        "inversion": score_reconstructions(x_te, invert(seen_te)).to_dict(),
        "label_attack": score_reconstructions(x_te, means[owner_labels]).to_dict(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads (use 1 on a machine shared with other jobs: oversubscribed "
        "OpenMP threads spin and run several times slower)",
    )
    parser.add_argument(
        "--out", default=str(Path(__file__).resolve().parent / "results" / "fhe_leakage.json")
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.time()
    x_pub, y_pub = digits_28("public")
    x_te, y_te = digits_28("test")
    means = class_mean_images(x_pub, y_pub)
    data = (digits_28("train"), (x_pub, y_pub), (x_te, y_te), means)
    baselines = {
        "average_image": score_reconstructions(
            x_te, np.repeat(x_pub.mean(0, keepdims=True), len(x_te), 0)
        ).to_dict(),
        "true_label_class_mean": score_reconstructions(x_te, means[y_te]).to_dict(),
    }
    settings = QUICK if args.quick else FULL
    epochs, inv_epochs = (15, 40) if args.quick else (60, 200)
    rows: list[dict[str, Any]] = []
    cache: dict[str, TrainedSplit] = {}
    for spec in SPLIT_SPECS.values():
        for label, obf, aware, nopeek in settings:
            rows.append(
                run_setting(
                    spec,
                    label,
                    obf,
                    aware,
                    nopeek,
                    data,
                    epochs=epochs,
                    inv_epochs=inv_epochs,
                    plain_cache=cache,
                )
            )
            print(
                f"  {spec.name} · {label}: done ({time.time() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    base_ssim = baselines["average_image"]["ssim"]
    for row in rows:
        plain = next(r for r in rows if r["split"] == row["split"] and r["setting"] == "none")
        row["accuracy_cost"] = plain["accuracy"] - row["accuracy"]
        row["attack_ssim"] = max(row["inversion"]["ssim"], row["label_attack"]["ssim"])
        row["ssim_above_average_baseline"] = row["attack_ssim"] - base_ssim
        row["ssim_above_label_floor"] = (
            row["attack_ssim"] - baselines["true_label_class_mean"]["ssim"]
        )
        row["meets_issue_target"] = (
            row["ssim_above_average_baseline"] <= SSIM_MARGIN
            and row["accuracy_cost"] <= MAX_ACCURACY_COST
        )
    result = {
        "quick": args.quick,
        "seconds": round(time.time() - started, 1),
        "torch_threads": args.threads,
        "machine": platform.machine(),
        "n_test": int(len(x_te)),
        "n_public": int(len(x_pub)),
        "baselines": baselines,
        "target": {"ssim_margin": SSIM_MARGIN, "max_accuracy_cost": MAX_ACCURACY_COST},
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    return result


def print_table(result: dict[str, Any]) -> None:
    b = result["baselines"]
    print(
        f"baselines on test: average image SSIM {b['average_image']['ssim']:.3f} "
        f"PSNR {b['average_image']['psnr']:.2f}; "
        f"true-label class mean SSIM {b['true_label_class_mean']['ssim']:.3f} "
        f"PSNR {b['true_label_class_mean']['psnr']:.2f}"
    )
    head = (
        f"{'split':<17} {'setting':<31} {'acc':>6} {'cost':>6} {'dCor':>5} {'inv PSNR':>8} "
        f"{'inv SSIM':>8} {'lbl SSIM':>8} {'Δavg':>6} {'Δlbl':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in result["rows"]:
        mark = "*" if r["shipped"] else " "
        print(
            f"{r['split']:<17} {r['setting'] + mark:<31} {r['accuracy']:>6.3f} "
            f"{100 * r['accuracy_cost']:>+6.1f} "
            f"{r['dcor']:>5.3f} {r['inversion']['psnr']:>8.2f} {r['inversion']['ssim']:>8.3f} "
            f"{r['label_attack']['ssim']:>8.3f} {r['ssim_above_average_baseline']:>+6.3f} "
            f"{r['ssim_above_label_floor']:>+6.3f}"
        )
    print(
        "cost in accuracy points vs 'none'; Δavg/Δlbl: max attack SSIM above the average-image "
        "baseline / the label floor; * = shipped in engines/splitnn_model"
    )


if __name__ == "__main__":
    main()
